//! The reported message as it goes back to its sender: whole, or only its header.
//!
//! Whatever the input, the result has CRLF line ends only and no line over 998
//! octets, so it can sit inside the report unchanged. A message is returned
//! whole only when that holds without altering it: bigger than the cap, or
//! with NUL octets or over-long lines (binary content), only its header goes
//! back, with over-long header lines folded.

use std::io::{self, Read};

use super::ReportKind;

/// RFC 5322 §2.1.1: at most 998 octets per line, CRLF excluded.
const MAX_LINE: usize = 998;
/// Where an over-long header line is folded.
const HEADER_FOLD_AT: usize = 900;
const READ_CHUNK: usize = 64 * 1024;

/// What part 3 of the report holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Returned {
    /// The whole message (`message/rfc822`).
    Full(Vec<u8>),
    /// Only its header section (`text/rfc822-headers`); empty when the message was.
    Headers(Vec<u8>),
}

impl Returned {
    pub(crate) fn content(&self) -> &[u8] {
        match self {
            Returned::Full(bytes) | Returned::Headers(bytes) => bytes,
        }
    }

    pub(crate) fn part_header(&self, kind: ReportKind) -> String {
        let (content_type, what) = match self {
            Returned::Full(_) => ("message/rfc822", "Message"),
            Returned::Headers(_) => ("text/rfc822-headers", "Message Headers"),
        };
        let state = match kind {
            ReportKind::Failure => "Undelivered",
            ReportKind::Delay => "Delayed",
            ReportKind::Success => "Delivered",
        };
        let encoding = if self.content().is_ascii() {
            "7bit"
        } else {
            "8bit"
        };
        format!(
            "Content-Description: {state} {what}\r\n\
             Content-Type: {content_type}\r\n\
             Content-Transfer-Encoding: {encoding}\r\n"
        )
    }
}

/// Reads the message: up to `cap` + 1 bytes when the whole of it is wanted,
/// else only as far as the end of its header (and never more than `cap` + 1).
pub(crate) fn read(input: &mut dyn Read, full_wanted: bool, cap: usize) -> io::Result<Returned> {
    let raw = read_prefix(input, full_wanted, cap)?;
    let over_cap = raw.len() > cap;
    let normalized = crlf_lines(&raw[..raw.len().min(cap)]);
    if full_wanted && !over_cap && !normalized.is_empty() && is_transparent(&normalized) {
        return Ok(Returned::Full(normalized));
    }
    Ok(Returned::Headers(header_section(&normalized, over_cap)))
}

fn read_prefix(input: &mut dyn Read, full_wanted: bool, cap: usize) -> io::Result<Vec<u8>> {
    let limit = cap.saturating_add(1);
    let mut raw = Vec::new();
    let mut chunk = vec![0; READ_CHUNK];
    while raw.len() < limit {
        let want = READ_CHUNK.min(limit - raw.len());
        let read = match input.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        let searched_from = raw.len().saturating_sub(3);
        raw.extend_from_slice(&chunk[..read]);
        if !full_wanted && header_end(&raw[searched_from..]).is_some() {
            break;
        }
    }
    Ok(raw)
}

/// Offset just past the blank line that ends a header section (CRLF or bare LF).
fn header_end(bytes: &[u8]) -> Option<usize> {
    let crlf = find(bytes, b"\r\n\r\n").map(|at| at + 4);
    let lf = find(bytes, b"\n\n").map(|at| at + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Every line ending (CRLF, bare LF, bare CR) made CRLF, and a final CRLF added
/// when the text does not end with one.
fn crlf_lines(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32 + 2);
    let mut bytes = raw.iter().copied().peekable();
    while let Some(byte) = bytes.next() {
        match byte {
            b'\r' => {
                bytes.next_if_eq(&b'\n');
                out.extend_from_slice(b"\r\n");
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            other => out.push(other),
        }
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// True when CRLF-normalized text can be carried as is: no NUL, no long line.
fn is_transparent(text: &[u8]) -> bool {
    !text.contains(&0) && lines(text).all(|line| line.len() <= MAX_LINE)
}

/// The lines of CRLF-normalized text, without their CRLF.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.strip_suffix(b"\r\n")
        .unwrap_or(text)
        .split(|&byte| byte == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|_| !text.is_empty())
}

/// The header lines of CRLF-normalized text, each made safe: NUL removed,
/// over-long lines folded. When `truncated`, the last line may be cut short
/// and is dropped.
fn header_section(text: &[u8], truncated: bool) -> Vec<u8> {
    let mut header: Vec<&[u8]> = lines(text).take_while(|line| !line.is_empty()).collect();
    let reached_body = header.len() < lines(text).count();
    if truncated && !reached_body {
        header.pop();
    }
    let mut out = Vec::new();
    for line in header {
        let line: Vec<u8> = line.iter().copied().filter(|&byte| byte != 0).collect();
        push_folded(&mut out, &line);
    }
    out
}

/// Appends one header line, folded with CRLF SP into pieces of at most
/// `HEADER_FOLD_AT` octets, never inside a UTF-8 sequence.
fn push_folded(out: &mut Vec<u8>, line: &[u8]) {
    let mut rest = line;
    while rest.len() > HEADER_FOLD_AT {
        let mut cut = HEADER_FOLD_AT;
        while cut > 1 && (rest[cut] & 0xC0) == 0x80 {
            cut -= 1;
        }
        out.extend_from_slice(&rest[..cut]);
        out.extend_from_slice(b"\r\n ");
        rest = &rest[cut..];
    }
    out.extend_from_slice(rest);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8], full: bool, cap: usize) -> Returned {
        read(&mut &bytes[..], full, cap).expect("slices do not fail")
    }

    #[test]
    fn whole_or_header_by_request_and_size() {
        let message = b"Subject: hi\r\nFrom: a@b\r\n\r\nbody\r\n";
        let header = b"Subject: hi\r\nFrom: a@b\r\n".to_vec();
        let cases = [
            (true, 1000, Returned::Full(message.to_vec())),
            (false, 1000, Returned::Headers(header.clone())),
            (true, message.len(), Returned::Full(message.to_vec())),
            (true, message.len() - 1, Returned::Headers(header)),
        ];
        for (full, cap, expected) in cases {
            assert_eq!(
                read_all(message, full, cap),
                expected,
                "full={full} cap={cap}"
            );
        }
    }

    #[test]
    fn line_ends_are_normalized_and_a_final_crlf_added() {
        let message = b"A: 1\nB: 2\r\rbody\nlast";
        assert_eq!(
            read_all(message, true, 1000),
            Returned::Full(b"A: 1\r\nB: 2\r\n\r\nbody\r\nlast\r\n".to_vec())
        );
    }

    #[test]
    fn binary_content_goes_back_as_header_only() {
        let long_line = format!("Subject: x\r\n\r\n{}\r\n", "a".repeat(999));
        let with_nul = b"Subject: x\r\nX-Nul: a\0b\r\n\r\nbody\0\r\n";
        assert_eq!(
            read_all(long_line.as_bytes(), true, 1 << 20),
            Returned::Headers(b"Subject: x\r\n".to_vec())
        );
        assert_eq!(
            read_all(with_nul, true, 1 << 20),
            Returned::Headers(b"Subject: x\r\nX-Nul: ab\r\n".to_vec())
        );
    }

    #[test]
    fn long_header_lines_are_folded_between_characters() {
        let value = "ü".repeat(1000);
        let message = format!("X-Long: {value}\r\n\r\nbody\r\n");
        let Returned::Headers(header) = read_all(message.as_bytes(), false, 1 << 20) else {
            panic!("header only was asked for");
        };
        let text = String::from_utf8(header).expect("folding keeps UTF-8 intact");
        assert!(text.split("\r\n").all(|line| line.len() <= MAX_LINE));
        assert_eq!(text.replace("\r\n ", ""), format!("X-Long: {value}\r\n"));
    }

    #[test]
    fn a_header_cut_by_the_cap_loses_its_partial_last_line() {
        let message = b"A: 1\r\nB: 22222222\r\n\r\nbody\r\n";
        assert_eq!(
            read_all(message, true, 10),
            Returned::Headers(b"A: 1\r\n".to_vec())
        );
    }

    #[test]
    fn header_only_reading_stops_after_the_header() {
        let mut message = b"Subject: x\r\n\r\n".to_vec();
        message.extend(std::iter::repeat_n(b'b', 1 << 20));
        let mut input = &message[..];
        let returned = read(&mut input, false, usize::MAX).expect("read");
        assert_eq!(returned, Returned::Headers(b"Subject: x\r\n".to_vec()));
        assert!(
            input.len() > (1 << 20) - READ_CHUNK,
            "read {} bytes",
            message.len() - input.len()
        );
    }

    #[test]
    fn an_empty_message_returns_nothing() {
        assert_eq!(read_all(b"", true, 100), Returned::Headers(Vec::new()));
    }
}
