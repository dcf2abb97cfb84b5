//! The DATA body receiver (RFC 5321 §4.1.1.4, §4.5.2).
//!
//! Policy, chosen to close SMTP smuggling (CVE-2023-51766 and friends):
//!
//! - **Only CRLF "." CRLF ends the data**, where the first CRLF may be the one that
//!   ended the `DATA` command line (so `.` CRLF right away is an empty message).
//! - A bare LF and a bare CR (one not followed by LF) are each NORMALISED to CRLF,
//!   as Postfix 3.9 does with `smtpd_forbid_bare_newline = normalize`. They never
//!   end the data, so `\n.\n`, `\r.\r`, `\r\n.\n`, `\n.\r\n`, `\r\r\n.\r\r\n` all
//!   stay inside the message; [`DataReceiver::saw_bare_line_ending`] reports them.
//! - Every line start, real or normalised, is dot-unstuffed: one leading `.` is
//!   removed. (So `\n.\r\n` stores an empty line, not a line holding a dot.)
//! - The stored body ends with the CRLF before the final dot; the terminator itself
//!   is not stored. Bytes after the terminator are not consumed.
//!
//! Nothing is held back between calls except a few bits of state: a pending CR, or
//! a `.` / `.\r` at the start of a line that may turn out to be the terminator.
//!
//! Speed: whole CRLF lines that none of the rules above touch (`plain_lines`) are
//! copied in one piece, many at a time; the byte state machine handles the rest.

/// Where the receiver is within the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line. `after_crlf`: the previous line ended with a real
    /// CRLF (or DATA just began), so a `.` here may start the terminator.
    LineStart { after_crlf: bool },
    /// Inside a line.
    InLine,
    /// A CR was read; the next byte decides whether it was half of a CRLF.
    Cr,
    /// `.` read at a line start after a real CRLF.
    Dot,
    /// `.` CR read at a line start after a real CRLF.
    DotCr,
    /// The terminator has been read.
    Done,
}

/// How far one [`DataReceiver::feed`] call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataProgress {
    /// Bytes of the input used; all of it unless `done`.
    pub consumed: usize,
    /// The final CRLF "." CRLF was read; `consumed` ends right after it.
    pub done: bool,
}

/// Receives a DATA body incrementally; see the module doc for the rules.
#[derive(Debug, Clone)]
pub struct DataReceiver {
    state: State,
    max_line_len: usize,
    line_len: usize,
    saw_bare_line_ending: bool,
    saw_long_line: bool,
    saw_nul: bool,
}

/// RFC 5322 §2.1.1: at most 998 characters per line, excluding the CRLF.
pub const DEFAULT_MAX_LINE_LEN: usize = 998;

impl Default for DataReceiver {
    fn default() -> Self {
        DataReceiver::new(DEFAULT_MAX_LINE_LEN)
    }
}

impl DataReceiver {
    /// A receiver that flags lines longer than `max_line_len` octets (CRLF excluded).
    pub fn new(max_line_len: usize) -> Self {
        DataReceiver {
            state: State::LineStart { after_crlf: true },
            max_line_len,
            line_len: 0,
            saw_bare_line_ending: false,
            saw_long_line: false,
            saw_nul: false,
        }
    }

    /// Appends unstuffed, CRLF-normalised body bytes of `input` to `out`; stops right
    /// after the CRLF "." CRLF terminator (bytes after it are the next command).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> DataProgress {
        let mut index = 0;
        while index < input.len() && self.state != State::Done {
            index += self.advance(&input[index..], out);
        }
        DataProgress {
            consumed: index,
            done: self.is_done(),
        }
    }

    /// The terminator has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// A bare CR or bare LF was seen (and normalised to CRLF).
    pub fn saw_bare_line_ending(&self) -> bool {
        self.saw_bare_line_ending
    }

    /// A line was longer than `max_line_len` octets.
    pub fn saw_long_line(&self) -> bool {
        self.saw_long_line
    }

    /// A NUL octet was seen (it is kept in the body).
    pub fn saw_nul(&self) -> bool {
        self.saw_nul
    }

    /// Takes the next piece of `input` (not empty): plain lines and text in one copy
    /// where the state allows, then the one byte that needs the state machine.
    /// Returns how many bytes it used (at least one).
    fn advance(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let mut used = 0;
        if let State::LineStart { .. } | State::InLine = self.state {
            used = self.copy_plain(input, out);
        }
        if let Some(&byte) = input.get(used) {
            self.step(byte, out);
            used += 1;
        }
        used
    }

    /// Copies the [`plain_lines`] at the front of `input` and the text after them as
    /// they are, with the flags and state the byte machine would have; returns how
    /// many bytes it used (maybe none).
    fn copy_plain(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let run = plain_lines(input, matches!(self.state, State::LineStart { .. }));
        let plain = &input[..run.text_end];
        out.extend_from_slice(plain);
        self.saw_nul = self.saw_nul || memchr::memchr(0, plain).is_some();
        if run.len > 0 {
            // The first line continues the one the state machine was in.
            let first_line = self.line_len + run.first_line;
            self.saw_long_line |= first_line.max(run.longest_later_line) > self.max_line_len;
            self.line_len = 0;
            self.state = State::LineStart { after_crlf: true };
        }
        let text = run.text_end - run.len;
        if text > 0 {
            self.line_len += text;
            self.saw_long_line |= self.line_len > self.max_line_len;
            self.state = State::InLine;
        }
        run.text_end
    }

    /// Handles one byte in any state.
    fn step(&mut self, byte: u8, out: &mut Vec<u8>) {
        match self.state {
            State::LineStart { after_crlf } => self.line_start(byte, after_crlf, out),
            State::InLine => self.in_line(byte, out),
            State::Cr if byte == b'\n' => self.end_line(false, out),
            State::Cr => {
                self.end_line(true, out);
                self.line_start(byte, false, out);
            }
            State::Dot if byte == b'\r' => self.state = State::DotCr,
            // The dot was stuffing; the byte is the line's first character.
            State::Dot => self.in_line(byte, out),
            State::DotCr if byte == b'\n' => self.state = State::Done,
            // `.` then a bare CR: the dot was stuffing, the CR a line ending.
            State::DotCr => {
                self.end_line(true, out);
                self.line_start(byte, false, out);
            }
            State::Done => {}
        }
    }

    fn line_start(&mut self, byte: u8, after_crlf: bool, out: &mut Vec<u8>) {
        match byte {
            b'.' if after_crlf => self.state = State::Dot,
            // Stuffing dot after a normalised line ending: dropped.
            b'.' => self.state = State::InLine,
            _ => self.in_line(byte, out),
        }
    }

    fn in_line(&mut self, byte: u8, out: &mut Vec<u8>) {
        match byte {
            b'\r' => self.state = State::Cr,
            b'\n' => self.end_line(true, out),
            _ => {
                self.state = State::InLine;
                self.text_byte(byte, out);
            }
        }
    }

    /// Writes CRLF for a line ending; `bare` when the input had only CR or only LF.
    fn end_line(&mut self, bare: bool, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\r\n");
        self.saw_bare_line_ending |= bare;
        self.line_len = 0;
        self.state = State::LineStart { after_crlf: !bare };
    }

    /// One byte of line text, taken by the state machine.
    fn text_byte(&mut self, byte: u8, out: &mut Vec<u8>) {
        out.push(byte);
        self.saw_nul |= byte == 0;
        self.line_len += 1;
        self.saw_long_line |= self.line_len > self.max_line_len;
    }
}

/// The front of some input that DATA framing passes through unchanged (both ways:
/// receiving unstuffs nothing and normalises nothing, stuffing adds nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct PlainLines {
    /// Bytes of whole lines, each ending with CRLF; 0 if there are none.
    pub len: usize,
    /// Length of the first line (CRLF excluded), counted from the input's start.
    pub first_line: usize,
    /// Length of the longest line after the first (CRLF excluded); 0 if none.
    pub longest_later_line: usize,
    /// End of the text after the lines (part of a line, not starting with `.` if it
    /// starts a line): at the CR, LF or line-start `.` that needs a closer look, or
    /// at the input's end.
    pub text_end: usize,
}

/// Finds the whole CRLF lines at the front of `input` in which every CR is followed
/// by LF, every LF follows a CR, and no line starts with `.` (the first one only
/// counts as starting a line when `at_line_start`), and the text after them. One
/// search per line and none past the first byte that breaks a rule, so no byte is
/// searched twice when the caller comes back after that byte.
pub(super) fn plain_lines(input: &[u8], at_line_start: bool) -> PlainLines {
    let mut run = PlainLines::default();
    if at_line_start && input.first() == Some(&b'.') {
        return run;
    }
    loop {
        let Some(offset) = memchr::memchr2(b'\r', b'\n', &input[run.len..]) else {
            run.text_end = input.len();
            return run;
        };
        let cr = run.len + offset;
        if input[cr] != b'\r' || input.get(cr + 1) != Some(&b'\n') {
            run.text_end = cr;
            return run;
        }
        if run.len == 0 {
            run.first_line = offset;
        } else {
            run.longest_later_line = run.longest_later_line.max(offset);
        }
        run.len = cr + 2;
        if input.get(run.len) == Some(&b'.') {
            run.text_end = run.len;
            return run;
        }
    }
}

#[cfg(test)]
pub(super) mod test_bodies;
#[cfg(test)]
mod tests;
