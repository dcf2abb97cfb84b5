//! Line-ending normalisation for BDAT chunks (RFC 3030 CHUNKING).
//!
//! BDAT needs no terminator or dot-unstuffing (the session counts the announced
//! octets itself), but a bare CR or bare LF in a text body is normalised to CRLF
//! exactly as in DATA, so both paths store the same bytes. A CR at the end of one
//! chunk waits for the first byte of the next. The session should bypass this for
//! `BODY=BINARYMIME`, whose content must be stored untouched.

/// Turns bare CR and bare LF into CRLF across chunk boundaries.
#[derive(Debug, Clone, Default)]
pub struct LineEndingNormalizer {
    pending_cr: bool,
    saw_bare_line_ending: bool,
}

impl LineEndingNormalizer {
    pub fn new() -> Self {
        LineEndingNormalizer::default()
    }

    /// Appends the normalised form of `input` to `out`; a trailing CR is held back.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut rest = input;
        while !rest.is_empty() {
            if self.pending_cr {
                self.pending_cr = false;
                out.extend_from_slice(b"\r\n");
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    _ => self.saw_bare_line_ending = true,
                }
                continue;
            }
            let end = rest
                .iter()
                .position(|&b| b == b'\r' || b == b'\n')
                .unwrap_or(rest.len());
            out.extend_from_slice(&rest[..end]);
            match rest.get(end) {
                Some(b'\r') => self.pending_cr = true,
                Some(_) => {
                    out.extend_from_slice(b"\r\n");
                    self.saw_bare_line_ending = true;
                }
                None => {}
            }
            rest = rest.get(end + 1..).unwrap_or_default();
        }
    }

    /// Flushes a CR held back at the end of the last chunk (as a CRLF).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            out.extend_from_slice(b"\r\n");
            self.saw_bare_line_ending = true;
        }
    }

    /// A bare CR or bare LF was seen.
    pub fn saw_bare_line_ending(&self) -> bool {
        self.saw_bare_line_ending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalise_in_chunks(input: &[u8], cut: usize) -> (Vec<u8>, bool) {
        let mut normalizer = LineEndingNormalizer::new();
        let mut out = Vec::new();
        let (first, second) = input.split_at(cut);
        normalizer.feed(first, &mut out);
        normalizer.feed(second, &mut out);
        normalizer.finish(&mut out);
        (out, normalizer.saw_bare_line_ending())
    }

    #[test]
    fn normalises_bare_endings_at_every_split() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"", b"", false),
            (b"a\r\nb\r\n", b"a\r\nb\r\n", false),
            (b"a\nb", b"a\r\nb", true),
            (b"a\rb", b"a\r\nb", true),
            (b"\r\r\n\n\r", b"\r\n\r\n\r\n\r\n", true),
            (b"\n.\n", b"\r\n.\r\n", true),
            (b"x\r", b"x\r\n", true),
        ];
        for (input, expected, bare) in cases {
            for cut in 0..=input.len() {
                let got = normalise_in_chunks(input, cut);
                assert_eq!(
                    got,
                    (expected.to_vec(), *bare),
                    "{} cut {cut}",
                    input.escape_ascii()
                );
            }
        }
    }

    #[test]
    fn crlf_split_across_chunks_stays_one_crlf() {
        let mut normalizer = LineEndingNormalizer::new();
        let mut out = Vec::new();
        normalizer.feed(b"line\r", &mut out);
        assert_eq!(out, b"line", "the CR waits for the next chunk");
        normalizer.feed(b"\nnext", &mut out);
        normalizer.finish(&mut out);
        assert_eq!(out, b"line\r\nnext");
        assert!(!normalizer.saw_bare_line_ending());
    }
}
