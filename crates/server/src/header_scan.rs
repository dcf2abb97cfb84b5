//! Finds the `Message-ID` in the header section of a message as it streams past, for the
//! `msgid=` of the accepted log line, without keeping the body.

/// Header bytes kept at most; a header section longer than this is not searched further.
const MAX_HEADER_BYTES: usize = 64 * 1024;

#[derive(Debug, Default)]
pub(crate) struct HeaderScan {
    headers: Vec<u8>,
    complete: bool,
}

impl HeaderScan {
    /// Looks at the next body bytes (CRLF line endings).
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        if self.complete {
            return;
        }
        let room = MAX_HEADER_BYTES.saturating_sub(self.headers.len());
        let start = self.headers.len().saturating_sub(3);
        self.headers
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        if self.headers.starts_with(b"\r\n") {
            self.headers.clear();
            self.complete = true;
        } else if let Some(end) = find(&self.headers[start..], b"\r\n\r\n") {
            self.headers.truncate(start + end + 2);
            self.complete = true;
        } else if self.headers.len() >= MAX_HEADER_BYTES {
            self.complete = true;
        }
    }

    /// The unfolded value of the first `Message-ID:` header, trimmed.
    pub(crate) fn message_id(&self) -> Option<String> {
        let mut lines = self.headers.split(|&b| b == b'\n').peekable();
        while let Some(line) = lines.next() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            if !line[..colon]
                .trim_ascii()
                .eq_ignore_ascii_case(b"message-id")
            {
                continue;
            }
            let mut value = line[colon + 1..].to_vec();
            while let Some(next) = lines.peek() {
                if !next.starts_with(b" ") && !next.starts_with(b"\t") {
                    break;
                }
                value.extend_from_slice(next.strip_suffix(b"\r").unwrap_or(next));
                lines.next();
            }
            let text = String::from_utf8_lossy(value.trim_ascii()).into_owned();
            return (!text.is_empty()).then_some(text);
        }
        None
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_folded_message_id_split_across_chunks() {
        let message =
            b"Subject: x\r\nMessage-ID:\r\n <abc@example.org>\r\n\r\nMessage-ID: <body@no>\r\n";
        for split in 1..message.len() {
            let mut scan = HeaderScan::default();
            scan.feed(&message[..split]);
            scan.feed(&message[split..]);
            assert_eq!(
                scan.message_id().as_deref(),
                Some("<abc@example.org>"),
                "split {split}"
            );
        }
    }

    #[test]
    fn ignores_message_id_in_the_body() {
        let mut scan = HeaderScan::default();
        scan.feed(b"Subject: x\r\n\r\nMessage-ID: <body@no>\r\n");
        assert_eq!(scan.message_id(), None);
        let mut scan = HeaderScan::default();
        scan.feed(b"\r\nMessage-ID: <body@no>\r\n");
        assert_eq!(scan.message_id(), None);
    }
}
