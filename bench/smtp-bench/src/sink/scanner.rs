//! Finding the end of DATA (`CRLF.CRLF`) in a stream of reads without keeping the body.
//!
//! The bulk of a message is searched with `memchr::memmem` (SIMD); only a terminator
//! split across two reads is matched a byte at a time, from the state left by the
//! previous read.

use memchr::memmem;

const END: &[u8] = b"\r\n.\r\n";

/// How much of `CRLF.CRLF` the bytes seen so far end with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataEndScanner {
    matched: usize,
}

impl Default for DataEndScanner {
    /// A scanner at the start of DATA: the `DATA` command line's CRLF already counts,
    /// so an empty message (`.` straight away) ends at once.
    fn default() -> Self {
        DataEndScanner { matched: 2 }
    }
}

impl DataEndScanner {
    /// Scans the next bytes of the body. Returns how many bytes of `input` belong to the
    /// message (up to and including the terminator) when it ends in `input`; `None`
    /// means every byte was body and the message goes on.
    pub fn feed(&mut self, input: &[u8]) -> Option<usize> {
        let mut position = 0;
        while self.matched > 0 && position < input.len() {
            self.matched = step(self.matched, input[position]);
            position += 1;
            if self.matched == END.len() {
                self.matched = 0;
                return Some(position);
            }
        }
        let rest = &input[position..];
        if let Some(found) = memmem::find(rest, END) {
            return Some(position + found + END.len());
        }
        if !rest.is_empty() {
            self.matched = (1..END.len())
                .rev()
                .find(|&len| rest.ends_with(&END[..len]))
                .unwrap_or(0);
        }
        None
    }
}

/// The matched length after one more byte. On a mismatch the only prefix of
/// `CRLF.CRLF` that can still be in progress is a lone CR.
fn step(matched: usize, byte: u8) -> usize {
    if byte == END[matched] {
        matched + 1
    } else if byte == b'\r' {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message_then_next_command() -> Vec<u8> {
        let mut input = b"Subject: x\r\n\r\nline one\r\n..stuffed\r\n\r\r\n.x\r\n".to_vec();
        input.extend_from_slice(b".\r\nQUIT\r\n");
        input
    }

    /// Where the message ends in the whole input, found by the simplest possible search.
    fn expected_end(input: &[u8]) -> usize {
        let mut with_data_line = b"\r\n".to_vec();
        with_data_line.extend_from_slice(input);
        let found = with_data_line
            .windows(END.len())
            .position(|window| window == END)
            .expect("terminator present");
        found + END.len() - 2
    }

    #[test]
    fn finds_the_end_in_one_read() {
        let input = message_then_next_command();
        let mut scanner = DataEndScanner::default();
        assert_eq!(scanner.feed(&input), Some(expected_end(&input)));
    }

    #[test]
    fn finds_the_end_split_across_two_reads_at_every_position() {
        let input = message_then_next_command();
        let end = expected_end(&input);
        for split in 0..=input.len() {
            let mut scanner = DataEndScanner::default();
            let found = match scanner.feed(&input[..split]) {
                Some(at) => at,
                None => split + scanner.feed(&input[split..]).expect("end in second read"),
            };
            assert_eq!(found, end, "split at {split}");
        }
    }

    #[test]
    fn finds_the_end_fed_one_byte_at_a_time() {
        let input = message_then_next_command();
        let mut scanner = DataEndScanner::default();
        let found = (0..input.len()).find(|&at| scanner.feed(&input[at..at + 1]).is_some());
        assert_eq!(found.map(|at| at + 1), Some(expected_end(&input)));
    }

    #[test]
    fn empty_message_ends_at_once() {
        let mut scanner = DataEndScanner::default();
        assert_eq!(scanner.feed(b".\r\nQUIT\r\n"), Some(3));
    }

    #[test]
    fn dot_not_at_line_start_does_not_end() {
        let mut scanner = DataEndScanner::default();
        assert_eq!(scanner.feed(b"a.\r\nb\r.\r\n"), None);
        assert_eq!(scanner.feed(b"\r\n.\r\n"), Some(5));
    }
}
