//! Incremental parser for server replies (RFC 5321 §4.2), for the SMTP client.
//!
//! ```text
//! Reply-line = *( Reply-code "-" [ textstring ] CRLF )
//!                 Reply-code [ SP textstring ] CRLF
//! Reply-code = %x32-35 %x30-35 %x30-39
//! ```
//!
//! Every line of a multi-line reply must carry the same code. An RFC 3463 enhanced
//! status code at the start of a line's text is taken off that line when its class
//! matches the reply code's first digit (`250 2.1.0 Ok`, not `250 5.1.0 Ok`); the
//! reply's status is the first one found. Lines end at LF (a CR before it is
//! dropped, one inside the text reads as a space), are at most [`DEFAULT_MAX_LINE_LEN`] octets, and a reply has at most
//! [`DEFAULT_MAX_LINES`] lines, so a hostile server cannot make us buffer forever.
//! Text that is not UTF-8 is kept with replacement characters.

use std::borrow::Cow;

use thiserror::Error;

use crate::reply::{EnhancedStatus, Reply};

/// RFC 5321 allows 512 octets per reply line; real servers overshoot a little.
pub const DEFAULT_MAX_LINE_LEN: usize = 2048;
/// More lines than any real EHLO response.
pub const DEFAULT_MAX_LINES: usize = 100;

/// Why the server's bytes are not a reply; the connection should be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReplyError {
    #[error("reply line does not start with a valid reply code")]
    BadCode,
    #[error("reply code not followed by space, '-' or end of line")]
    BadSeparator,
    #[error("multi-line reply changed code from {first} to {then}")]
    MixedCodes { first: u16, then: u16 },
    #[error("reply line too long")]
    LineTooLong,
    #[error("reply has too many lines")]
    TooManyLines,
}

/// How far one [`ReplyParser::feed`] call got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyProgress {
    /// Bytes of the buffer used (complete lines only); the caller drops them.
    pub consumed: usize,
    /// The reply, once its last line has arrived.
    pub reply: Option<Reply>,
}

/// Collects reply lines until a complete reply is available.
#[derive(Debug, Clone)]
pub struct ReplyParser {
    max_line_len: usize,
    max_lines: usize,
    code: Option<u16>,
    status: Option<EnhancedStatus>,
    lines: Vec<Cow<'static, str>>,
}

impl Default for ReplyParser {
    fn default() -> Self {
        ReplyParser::new(DEFAULT_MAX_LINE_LEN, DEFAULT_MAX_LINES)
    }
}

impl ReplyParser {
    /// `max_line_len` counts the CRLF.
    pub fn new(max_line_len: usize, max_lines: usize) -> Self {
        ReplyParser {
            max_line_len,
            max_lines,
            code: None,
            status: None,
            lines: Vec::new(),
        }
    }

    /// Reads complete lines from the start of `buf`; stops after a reply's last line.
    ///
    /// After an error the parser starts afresh, but the stream is best abandoned.
    pub fn feed(&mut self, buf: &[u8]) -> Result<ReplyProgress, ReplyError> {
        let result = self.feed_lines(buf);
        if result.is_err() {
            self.reset();
        }
        result
    }

    /// Forgets any lines of an unfinished reply.
    pub fn reset(&mut self) {
        self.code = None;
        self.status = None;
        self.lines.clear();
    }

    fn feed_lines(&mut self, buf: &[u8]) -> Result<ReplyProgress, ReplyError> {
        let mut consumed = 0;
        loop {
            let rest = &buf[consumed..];
            let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
                if rest.len() >= self.max_line_len {
                    return Err(ReplyError::LineTooLong);
                }
                return Ok(ReplyProgress {
                    consumed,
                    reply: None,
                });
            };
            let line = rest[..lf].strip_suffix(b"\r").unwrap_or(&rest[..lf]);
            if line.len() + 2 > self.max_line_len {
                return Err(ReplyError::LineTooLong);
            }
            consumed += lf + 1;
            if let Some(reply) = self.line(line)? {
                return Ok(ReplyProgress {
                    consumed,
                    reply: Some(reply),
                });
            }
        }
    }

    /// Takes one line; returns the reply when it was the last one.
    fn line(&mut self, line: &[u8]) -> Result<Option<Reply>, ReplyError> {
        let (code, last, text) = split_line(line)?;
        let first = *self.code.get_or_insert(code);
        if first != code {
            return Err(ReplyError::MixedCodes { first, then: code });
        }
        if self.lines.len() == self.max_lines {
            return Err(ReplyError::TooManyLines);
        }
        // A CR inside the text reads as the space it is written as (`Reply::write_to`),
        // so a reply parses the same before and after it is passed on.
        let text: Cow<'_, [u8]> = if text.contains(&b'\r') {
            Cow::Owned(
                text.iter()
                    .map(|&b| if b == b'\r' { b' ' } else { b })
                    .collect(),
            )
        } else {
            Cow::Borrowed(text)
        };
        let (status, text) = strip_status(code, &text);
        self.status = self.status.or(status);
        self.lines
            .push(String::from_utf8_lossy(text).into_owned().into());
        if !last {
            return Ok(None);
        }
        let reply = Reply {
            code,
            status: self.status,
            lines: std::mem::take(&mut self.lines),
        };
        self.reset();
        Ok(Some(reply))
    }
}

/// `Reply-code ( "-" / SP / end ) text` into (code, is last line, text).
fn split_line(line: &[u8]) -> Result<(u16, bool, &[u8]), ReplyError> {
    let (code, rest) = match line {
        [a @ b'2'..=b'5', b @ b'0'..=b'5', c @ b'0'..=b'9', rest @ ..] => {
            let digit = |d: &u8| u16::from(d - b'0');
            (digit(a) * 100 + digit(b) * 10 + digit(c), rest)
        }
        _ => return Err(ReplyError::BadCode),
    };
    match rest.split_first() {
        None => Ok((code, true, rest)),
        Some((b' ', text)) => Ok((code, true, text)),
        Some((b'-', text)) => Ok((code, false, text)),
        Some(_) => Err(ReplyError::BadSeparator),
    }
}

/// Takes `class "." 1*3digit "." 1*3digit` (then SP or end) off the text, when the
/// class matches the reply code.
fn strip_status(code: u16, text: &[u8]) -> (Option<EnhancedStatus>, &[u8]) {
    let end = text.iter().position(|&b| b == b' ').unwrap_or(text.len());
    let mut parts = text[..end].split(|&b| b == b'.');
    let (Some(class), Some(subject), Some(detail), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return (None, text);
    };
    // RFC 3463 classes are 2, 4 and 5 only: a 354 carries no enhanced status.
    let class_matches =
        matches!(class, [b'2' | b'4' | b'5']) && u16::from(class[0] - b'0') == code / 100;
    match (class_matches, number(subject), number(detail)) {
        (true, Some(subject), Some(detail)) => {
            let status = EnhancedStatus::new(class[0] - b'0', subject, detail);
            let rest = text.get(end + 1..).unwrap_or_default();
            (Some(status), rest)
        }
        _ => (None, text),
    }
}

/// `1*3DIGIT`.
fn number(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0')))
}

#[cfg(test)]
mod tests;
