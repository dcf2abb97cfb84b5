//! Command-line framing with a length limit (RFC 5321 §4.5.3.1.4: 512 octets
//! including the CRLF; callers raise it for commands such as AUTH that need more).
//!
//! A line ends at LF, and a CR right before the LF is stripped. A bare LF is
//! accepted as a command line ending, as Postfix does: refusing it breaks real
//! clients, and unlike inside DATA it opens no smuggling hole, since a command line
//! is parsed on its own. A line that is too long is reported as [`Line::TooLong`]
//! once, when its LF finally arrives, so the session answers it exactly once and in
//! order with pipelined commands; its bytes are dropped as they come.

/// A command line, or the news that one was too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// The line without its LF or CRLF.
    Complete(&'a [u8]),
    /// A line over the limit ended; its content was discarded.
    TooLong,
}

/// The result of one [`LineFramer::next_line`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramedLine<'a> {
    /// The next line, or `None` when more input is needed.
    pub line: Option<Line<'a>>,
    /// How many bytes of the buffer were used; the caller drops them (also when
    /// `line` is `None`: those are bytes of an over-long line being discarded).
    pub consumed: usize,
}

/// Splits a byte buffer into command lines.
#[derive(Debug, Clone)]
pub struct LineFramer {
    max_len: usize,
    discarding: bool,
}

impl LineFramer {
    /// `max_len` counts the line ending as two octets, whether it was CRLF or LF.
    pub fn new(max_len: usize) -> Self {
        LineFramer {
            max_len: max_len.max(2),
            discarding: false,
        }
    }

    /// The limit this framer enforces, line ending included.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Changes the limit from the next line on (e.g. while an AUTH exchange runs).
    pub fn set_max_len(&mut self, max_len: usize) {
        self.max_len = max_len.max(2);
    }

    /// Finds the next line at the start of `buf`.
    pub fn next_line<'a>(&mut self, buf: &'a [u8]) -> FramedLine<'a> {
        let newline = buf.iter().position(|&b| b == b'\n');
        match (newline, self.discarding) {
            (Some(lf), true) => {
                self.discarding = false;
                framed(Some(Line::TooLong), lf + 1)
            }
            (None, true) => framed(None, buf.len()),
            (Some(lf), false) => {
                let content = buf[..lf].strip_suffix(b"\r").unwrap_or(&buf[..lf]);
                let line = if content.len() + 2 > self.max_len {
                    Line::TooLong
                } else {
                    Line::Complete(content)
                };
                framed(Some(line), lf + 1)
            }
            // A line of `max_len - 2` content octets plus CR still needs its LF.
            (None, false) if buf.len() < self.max_len => framed(None, 0),
            (None, false) => {
                self.discarding = true;
                framed(None, buf.len())
            }
        }
    }
}

fn framed(line: Option<Line<'_>>, consumed: usize) -> FramedLine<'_> {
    FramedLine { line, consumed }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in chunks of `chunk` bytes through a caller-side buffer, as a
    /// driver would, and collects what came out.
    fn frame_all(max_len: usize, input: &[u8], chunk: usize) -> Vec<Option<Vec<u8>>> {
        let mut framer = LineFramer::new(max_len);
        let mut buffer = Vec::new();
        let mut lines = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            buffer.extend_from_slice(piece);
            loop {
                let next = framer.next_line(&buffer);
                let line = next.line.map(|line| match line {
                    Line::Complete(content) => Some(content.to_vec()),
                    Line::TooLong => None,
                });
                buffer.drain(..next.consumed);
                match line {
                    Some(line) => lines.push(line),
                    None => break,
                }
            }
            assert!(
                buffer.len() < max_len,
                "framer let the buffer grow past the limit"
            );
        }
        lines
    }

    #[test]
    fn splits_on_crlf_and_bare_lf() {
        let lines = frame_all(512, b"EHLO a\r\nMAIL FROM:<>\nRSET\r\r\npartial", 1000);
        let expected: Vec<Option<Vec<u8>>> = vec![
            Some(b"EHLO a".to_vec()),
            Some(b"MAIL FROM:<>".to_vec()),
            Some(b"RSET\r".to_vec()),
        ];
        assert_eq!(lines, expected);
    }

    #[test]
    fn empty_lines_are_lines() {
        assert_eq!(
            frame_all(512, b"\r\n\n", 1),
            vec![Some(vec![]), Some(vec![])]
        );
    }

    #[test]
    fn limit_counts_the_line_ending_as_two_octets() {
        for ending in [&b"\r\n"[..], b"\n"] {
            let fits = [vec![b'a'; 510], ending.to_vec()].concat();
            let over = [vec![b'a'; 511], ending.to_vec()].concat();
            assert_eq!(frame_all(512, &fits, 1000), vec![Some(vec![b'a'; 510])]);
            assert_eq!(frame_all(512, &over, 1000), vec![None]);
            assert_eq!(frame_all(512, &over, 1), vec![None]);
        }
    }

    #[test]
    fn too_long_is_reported_once_and_framing_resumes() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\r\nQUIT\r\n");
        for chunk in [1, 7, 511, 512, 513, 4096, 10_000] {
            let lines = frame_all(512, &input, chunk);
            assert_eq!(lines, vec![None, Some(b"QUIT".to_vec())], "chunk {chunk}");
        }
    }

    #[test]
    fn incomplete_line_is_not_consumed() {
        let mut framer = LineFramer::new(512);
        assert_eq!(
            framer.next_line(b"EHLO"),
            FramedLine {
                line: None,
                consumed: 0
            }
        );
        assert_eq!(
            framer.next_line(b"EHLO x\r\nQUIT"),
            FramedLine {
                line: Some(Line::Complete(b"EHLO x")),
                consumed: 8
            }
        );
    }

    #[test]
    fn larger_limit_for_auth() {
        let mut framer = LineFramer::new(512);
        framer.set_max_len(12_288);
        let long = [vec![b'A'; 5000], b"\r\n".to_vec()].concat();
        assert_eq!(
            framer.next_line(&long).line,
            Some(Line::Complete(&long[..5000]))
        );
    }
}
