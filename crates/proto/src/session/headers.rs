//! Measures the header section of a message as its content streams past: its size and
//! how many `Received:` fields it carries (the hop count of RFC 5321 §6.3). Nothing is
//! kept but a few bytes of the current field name, so the limits cost no memory.
//!
//! The header section ends at the first empty line (RFC 5322 §2.1). A bare LF ends a
//! line too, for BODY=BINARYMIME content that was not normalised.

/// `received` plus room for obsolete white space before the colon (RFC 5322 §4.5.3).
const NAME_ROOM: usize = 16;

/// Streaming counter over body bytes; feed it every byte in order.
#[derive(Debug, Clone)]
pub(super) struct HeaderCounter {
    in_header: bool,
    /// Octets of the header section so far, line endings included.
    size: u64,
    received: usize,
    /// The current line has had a byte other than CR.
    line_has_text: bool,
    /// CRs of the current line while it has no text: not header octets if the line
    /// turns out to be the empty line that ends the section.
    leading_crs: u64,
    name: [u8; NAME_ROOM],
    name_len: usize,
    /// The field name of the current line is decided (colon seen, or too long).
    name_done: bool,
}

impl Default for HeaderCounter {
    fn default() -> Self {
        HeaderCounter {
            in_header: true,
            size: 0,
            received: 0,
            line_has_text: false,
            leading_crs: 0,
            name: [0; NAME_ROOM],
            name_len: 0,
            name_done: false,
        }
    }
}

impl HeaderCounter {
    /// Looks at the next content bytes.
    pub(super) fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if !self.in_header {
                return;
            }
            self.byte(byte);
        }
    }

    /// Octets of the header section (all of it once the empty line was seen).
    pub(super) fn size(&self) -> u64 {
        self.size
    }

    /// `Received:` fields in the header section.
    pub(super) fn received(&self) -> usize {
        self.received
    }

    fn byte(&mut self, byte: u8) {
        match byte {
            b'\n' if !self.line_has_text => {
                self.size -= self.leading_crs;
                self.in_header = false;
            }
            b'\n' => {
                self.size += 1;
                self.line_has_text = false;
                self.leading_crs = 0;
                self.name_len = 0;
                self.name_done = false;
            }
            b'\r' => {
                self.size += 1;
                if !self.line_has_text {
                    self.leading_crs += 1;
                }
            }
            _ => {
                self.size += 1;
                self.line_has_text = true;
                self.name_byte(byte);
            }
        }
    }

    fn name_byte(&mut self, byte: u8) {
        if self.name_done {
            return;
        }
        if byte == b':' {
            self.name_done = true;
            let name = self.name[..self.name_len].trim_ascii_end();
            if name.eq_ignore_ascii_case(b"received") {
                self.received += 1;
            }
        } else if self.name_len < NAME_ROOM {
            self.name[self.name_len] = byte;
            self.name_len += 1;
        } else {
            self.name_done = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(message: &[u8], split: usize) -> (u64, usize) {
        let mut counter = HeaderCounter::default();
        counter.feed(&message[..split]);
        counter.feed(&message[split..]);
        (counter.size(), counter.received())
    }

    #[test]
    fn counts_received_fields_at_any_split() {
        let message = b"Received: from a\r\nreceived :by b\r\n\tReceived: folded\r\n\
            X-Received: no\r\nRECEIVED: c\r\n\r\nReceived: in the body\r\n";
        let header_size = message.len() as u64 - 2 - 23;
        for split in 0..=message.len() {
            assert_eq!(counted(message, split), (header_size, 3), "split {split}");
        }
    }

    #[test]
    fn message_without_headers_has_an_empty_header_section() {
        assert_eq!(counted(b"\r\nReceived: x\r\n", 1), (0, 0));
    }

    #[test]
    fn unterminated_header_section_counts_everything() {
        assert_eq!(counted(b"Subject: x\r\nReceived: y", 5), (23, 1));
    }

    #[test]
    fn long_field_names_are_not_received() {
        let message = b"Receivedxxxxxxxxxxxxxxxxxxxxxxx: x\r\n\r\n";
        assert_eq!(counted(message, 3).1, 0);
    }
}
