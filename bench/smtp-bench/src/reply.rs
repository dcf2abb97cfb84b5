//! Reading SMTP replies on the client side from a fixed buffer: no allocation per line,
//! and pipelined replies that arrive together are taken one at a time.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest reply line accepted (RFC 5321 allows 512 octets; EHLO lines are short).
const BUFFER_SIZE: usize = 8192;

/// Bytes read from the server and not yet parsed.
#[derive(Debug)]
pub struct ReplyReader {
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Default for ReplyReader {
    fn default() -> Self {
        ReplyReader {
            buffer: vec![0; BUFFER_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }
}

impl ReplyReader {
    /// Reads one complete (possibly multi-line) reply and returns its code. `on_line`
    /// sees the text after the code of each line, e.g. `PIPELINING` in an EHLO reply.
    pub async fn read<S, F>(&mut self, stream: &mut S, mut on_line: F) -> io::Result<u16>
    where
        S: AsyncRead + Unpin,
        F: FnMut(&[u8]),
    {
        loop {
            while let Some(newline) = memchr::memchr(b'\n', &self.buffer[self.start..self.end]) {
                let line_end = self.start + newline + 1;
                let line = &self.buffer[self.start..line_end];
                self.start = line_end;
                let (code, last, text) = parse_line(line)?;
                on_line(text);
                if last {
                    return Ok(code);
                }
            }
            self.fill(stream).await?;
        }
    }

    /// Whether bytes that are not yet parsed are waiting (must be none at STARTTLS).
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    async fn fill<S: AsyncRead + Unpin>(&mut self, stream: &mut S) -> io::Result<()> {
        if self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buffer.len() {
            return Err(invalid("reply line too long"));
        }
        let read = stream.read(&mut self.buffer[self.end..]).await?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        self.end += read;
        Ok(())
    }
}

/// Splits `250-PIPELINING\r\n` into (250, not last, `PIPELINING`).
fn parse_line(line: &[u8]) -> io::Result<(u16, bool, &[u8])> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line.get(..3).ok_or_else(|| invalid("short reply line"))?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid("reply line without a code"));
    }
    let code = digits
        .iter()
        .fold(0u16, |code, digit| code * 10 + u16::from(digit - b'0'));
    let last = line.get(3) != Some(&b'-');
    let text = line.get(4..).unwrap_or(&[]);
    Ok((code, last, text))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_pipelined_and_multiline_replies_in_order() {
        let mut input: &[u8] =
            b"250-sink.test\r\n250-PIPELINING\r\n250 SIZE 0\r\n250 ok\r\n354 go\r\n";
        let mut reader = ReplyReader::default();
        let mut lines = Vec::new();
        let code = reader
            .read(&mut input, |text| lines.push(text.to_vec()))
            .await
            .unwrap();
        assert_eq!(code, 250);
        assert_eq!(lines[1], b"PIPELINING");
        assert_eq!(reader.read(&mut input, |_| {}).await.unwrap(), 250);
        assert_eq!(reader.read(&mut input, |_| {}).await.unwrap(), 354);
        assert!(reader.is_empty());
        assert!(reader.read(&mut input, |_| {}).await.is_err());
    }

    #[test]
    fn bare_code_line_is_last() {
        assert_eq!(parse_line(b"250\r\n").unwrap(), (250, true, &b""[..]));
        assert!(parse_line(b"25").is_err());
        assert!(parse_line(b"abc def\r\n").is_err());
    }
}
