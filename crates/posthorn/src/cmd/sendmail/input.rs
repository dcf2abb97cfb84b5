//! The message on stdin to the bytes the spool stores: every line ending (LF, CRLF or
//! a bare CR) becomes CRLF, the last line gets one if it has none, and, unless `-i`
//! was given, a line holding only "." ends the message as it does for sendmail.
//!
//! It works on pieces of any size, so a large message streams through without being
//! held in memory. It does not look at headers.

/// Where in a line the bytes seen so far leave us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    LineStart,
    InLine,
    /// A CR was read; a following LF belongs to it.
    AfterCr,
    /// A "." was read at the start of a line (only when dots end the message).
    Dot,
    /// The message is complete; later input is ignored.
    Ended,
}

#[derive(Debug)]
pub struct Normalizer {
    dot_ends_message: bool,
    state: State,
}

impl Normalizer {
    pub fn new(dot_ends_message: bool) -> Self {
        Normalizer {
            dot_ends_message,
            state: State::LineStart,
        }
    }

    /// True once a lone "." line ended the message.
    pub fn ended(&self) -> bool {
        self.state == State::Ended
    }

    /// Appends the normalised form of `input` to `output`.
    pub fn feed(&mut self, input: &[u8], output: &mut Vec<u8>) {
        for &byte in input {
            if self.state == State::Ended {
                return;
            }
            self.step(byte, output);
        }
    }

    /// End of input: completes the last line. A "." alone on the last line ends the
    /// message there too.
    pub fn finish(&mut self, output: &mut Vec<u8>) {
        match self.state {
            State::InLine => output.extend_from_slice(b"\r\n"),
            State::LineStart | State::AfterCr | State::Dot | State::Ended => {}
        }
        self.state = State::Ended;
    }

    fn step(&mut self, byte: u8, output: &mut Vec<u8>) {
        self.state = match (self.state, byte) {
            (State::Dot, b'\r' | b'\n') => State::Ended,
            (State::Dot, _) => {
                output.push(b'.');
                return self.in_line(byte, output);
            }
            (State::AfterCr, b'\n') => State::LineStart,
            (State::AfterCr, _) => return self.line_start(byte, output),
            (State::LineStart, _) => return self.line_start(byte, output),
            (State::InLine, _) => return self.in_line(byte, output),
            (State::Ended, _) => State::Ended,
        };
    }

    fn line_start(&mut self, byte: u8, output: &mut Vec<u8>) {
        if byte == b'.' && self.dot_ends_message {
            self.state = State::Dot;
        } else {
            self.in_line(byte, output);
        }
    }

    fn in_line(&mut self, byte: u8, output: &mut Vec<u8>) {
        self.state = match byte {
            b'\r' => {
                output.extend_from_slice(b"\r\n");
                State::AfterCr
            }
            b'\n' => {
                output.extend_from_slice(b"\r\n");
                State::LineStart
            }
            _ => {
                output.push(byte);
                State::InLine
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Normalises `input` fed in pieces of `piece` bytes.
    fn normalize(input: &[u8], dot_ends_message: bool, piece: usize) -> (Vec<u8>, bool) {
        let mut normalizer = Normalizer::new(dot_ends_message);
        let mut output = Vec::new();
        for chunk in input.chunks(piece) {
            normalizer.feed(chunk, &mut output);
        }
        let ended_early = normalizer.ended();
        normalizer.finish(&mut output);
        (output, ended_early)
    }

    #[test]
    fn line_endings_become_crlf() {
        let table: [(&[u8], &[u8]); 8] = [
            (b"a\nb\n", b"a\r\nb\r\n"),
            (b"a\r\nb\r\n", b"a\r\nb\r\n"),
            (b"a\rb\r", b"a\r\nb\r\n"),
            (b"a\r\rb", b"a\r\n\r\nb\r\n"),
            (b"a\n\r\nb", b"a\r\n\r\nb\r\n"),
            (b"no newline", b"no newline\r\n"),
            (b"", b""),
            (b"\n", b"\r\n"),
        ];
        for (input, expected) in table {
            for piece in 1..=input.len().max(1) {
                let (output, _) = normalize(input, true, piece);
                assert_eq!(output, expected, "{input:?} in pieces of {piece}");
            }
        }
    }

    #[test]
    fn lone_dot_ends_the_message_without_dash_i() {
        let table: [(&[u8], &[u8], bool); 8] = [
            (b"a\n.\nafter\n", b"a\r\n", true),
            (b"a\r\n.\r\nafter\r\n", b"a\r\n", true),
            (b"a\n.\rafter\n", b"a\r\n", true),
            (b".\n", b"", true),
            (b"a\n.", b"a\r\n", false),
            (b"a\n..\n", b"a\r\n..\r\n", false),
            (b"a\n.b\n", b"a\r\n.b\r\n", false),
            (b"a.\n", b"a.\r\n", false),
        ];
        for (input, expected, ends_early) in table {
            for piece in 1..=input.len() {
                let (output, ended) = normalize(input, true, piece);
                assert_eq!(output, expected, "{input:?} in pieces of {piece}");
                assert_eq!(ended, ends_early, "{input:?} in pieces of {piece}");
            }
        }
    }

    #[test]
    fn with_dash_i_a_lone_dot_is_text() {
        let (output, ended) = normalize(b"a\n.\nafter\n.", false, 3);
        assert_eq!(output, b"a\r\n.\r\nafter\r\n.\r\n");
        assert!(!ended);
    }
}
