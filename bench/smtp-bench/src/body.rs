//! The test message: a small header block written per message (its `Message-ID` is
//! unique) and a body generated once and shared by every session, so sending a message
//! costs no allocation and no formatting beyond one header line.
//!
//! The whole message (headers, blank line, body) is exactly `--size` bytes, every line
//! ends in CRLF and no line starts with `.`, so no dot-stuffing is ever needed and the
//! shared bytes go to the socket as they are.

use std::io::Write;
use std::sync::Arc;

/// Printable characters a body line is made of; alphanumerics only, so a line can never
/// start with `.`.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Characters per full body line, before its CRLF (RFC 5322's recommended 78 with CRLF).
const LINE_TEXT: usize = 76;

/// The end of DATA, sent right after the body.
const DATA_END: &[u8] = b".\r\n";

/// Width of the message number in `Message-ID`, fixed so every header block has the
/// same length and the body length can be computed once.
const INDEX_WIDTH: usize = 12;

/// Everything needed to produce message number `i` of a run.
#[derive(Debug)]
pub struct MessageTemplate {
    from: String,
    to: String,
    id_domain: String,
    run_token: u64,
    date: String,
    /// The body lines followed by the `.` line that ends DATA.
    body_and_end: Arc<[u8]>,
}

impl MessageTemplate {
    /// Builds the template for messages of `size` bytes in total (headers included; a
    /// size smaller than the header block gives messages of just the headers).
    pub fn new(size: usize, from: &str, to: &str, id_domain: &str) -> Self {
        let mut template = MessageTemplate {
            from: from.to_owned(),
            to: to.to_owned(),
            id_domain: id_domain.to_owned(),
            run_token: run_token(),
            date: chrono::Utc::now().to_rfc2822(),
            body_and_end: Arc::from(&b""[..]),
        };
        let mut header = Vec::new();
        template.write_header(0, &mut header);
        let mut body = body_lines(size.saturating_sub(header.len()));
        body.extend_from_slice(DATA_END);
        template.body_and_end = Arc::from(body);
        template
    }

    /// Replaces `buffer` with the header block of message `index` (its length is the
    /// same for every index below 10^12).
    pub fn write_header(&self, index: u64, buffer: &mut Vec<u8>) {
        buffer.clear();
        // Writing into a Vec cannot fail.
        let _ = write!(
            buffer,
            "From: <{from}>\r\nTo: <{to}>\r\nSubject: posthorn-bench test message\r\n\
             Message-ID: <{index:0width$}.{token:016x}@{domain}>\r\nDate: {date}\r\n\r\n",
            from = self.from,
            to = self.to,
            width = INDEX_WIDTH,
            token = self.run_token,
            domain = self.id_domain,
            date = self.date,
        );
    }

    /// The shared body followed by `.\r\n`.
    pub fn body_and_end(&self) -> &[u8] {
        &self.body_and_end
    }
}

/// A token that differs between runs, so Message-IDs of two runs never collide.
fn run_token() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 40)
}

/// `len` bytes of CRLF-terminated lines of at most 76 printable characters. A length of
/// exactly 1 cannot be a CRLF line, so it yields an empty body.
pub fn body_lines(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + DATA_END.len());
    let mut line_number = 0usize;
    while len - out.len() >= 2 {
        let remaining = len - out.len();
        let mut text = LINE_TEXT.min(remaining - 2);
        // Never leave a single byte, which could not hold a CRLF.
        if remaining - (text + 2) == 1 {
            text -= 1;
        }
        let offset = line_number % ALPHABET.len();
        out.extend(ALPHABET.iter().cycle().skip(offset).take(text));
        out.extend_from_slice(b"\r\n");
        line_number += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole_message(template: &MessageTemplate, index: u64) -> Vec<u8> {
        let mut message = Vec::new();
        template.write_header(index, &mut message);
        let body = template.body_and_end();
        message.extend_from_slice(&body[..body.len() - DATA_END.len()]);
        message
    }

    fn assert_well_formed(message: &[u8]) {
        assert!(message.ends_with(b"\r\n"), "message must end in CRLF");
        for (position, byte) in message.iter().enumerate() {
            if *byte == b'\n' {
                assert_eq!(message[position - 1], b'\r', "bare LF at {position}");
            }
            if *byte == b'\r' {
                assert_eq!(message[position + 1], b'\n', "bare CR at {position}");
            }
        }
        for line in message.split(|byte| *byte == b'\n') {
            assert!(!line.starts_with(b"."), "a line starts with a dot");
        }
    }

    #[test]
    fn body_lines_have_the_exact_length_and_are_crlf_lines() {
        for len in (0..2000).filter(|len| *len != 1) {
            let body = body_lines(len);
            assert_eq!(body.len(), len, "length {len}");
            if len > 0 {
                assert_well_formed(&body);
            }
            for line in body.split(|byte| *byte == b'\n') {
                assert!(line.len() <= LINE_TEXT + 1, "line too long at length {len}");
            }
        }
    }

    #[test]
    fn whole_message_is_exactly_the_requested_size() {
        for size in [10 * 1024, 100 * 1024, 1024 * 1024, 500, 300] {
            let template = MessageTemplate::new(size, "a@b.test", "c@d.test", "b.test");
            for index in [0, 7, 999_999] {
                let message = whole_message(&template, index);
                assert_eq!(message.len(), size);
                assert_well_formed(&message);
            }
        }
    }

    #[test]
    fn message_ids_differ_between_messages_but_header_length_does_not() {
        let template = MessageTemplate::new(1024, "a@b.test", "c@d.test", "b.test");
        let (mut first, mut second) = (Vec::new(), Vec::new());
        template.write_header(1, &mut first);
        template.write_header(2, &mut second);
        assert_ne!(first, second);
        assert_eq!(first.len(), second.len());
    }

    #[test]
    fn shared_body_ends_with_the_data_terminator() {
        let template = MessageTemplate::new(4096, "a@b.test", "c@d.test", "b.test");
        assert!(template.body_and_end().ends_with(b"\r\n.\r\n"));
    }
}
