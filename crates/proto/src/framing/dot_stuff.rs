//! Dot-stuffing for sending a DATA body (RFC 5321 §4.5.2), the inverse of
//! [`crate::framing::data`].
//!
//! Every line that starts with `.` gets one more, so no line of the message can be
//! read as the terminator, and [`DotStuffer::finish`] writes the terminator itself.
//! The input is the stored body, which has CRLF line endings only; a bare CR or
//! bare LF that slipped in anyway is written as CRLF (and the line after it is
//! stuffed), so whatever the input, the output can never end DATA early or be read
//! differently by a peer that treats bare line endings as line ends (SMTP smuggling).
//! Nothing is held back between calls: only whether the last byte ended a line.

use crate::framing::data::plain_lines;

/// Where the stuffer is within the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Position {
    /// At the start of a line (or of the body).
    #[default]
    LineStart,
    InLine,
    /// A CR was written; the next byte decides whether it was half of a CRLF.
    AfterCr,
}

/// Turns a stored body into DATA content, in chunks of any size.
#[derive(Debug, Clone, Default)]
pub struct DotStuffer {
    position: Position,
}

impl DotStuffer {
    pub fn new() -> Self {
        DotStuffer::default()
    }

    /// Appends the stuffed form of `input` to `out`. Whole CRLF lines that need no
    /// extra dot, and the text after them up to the next CR, LF or line-start dot,
    /// are copied in one piece: only those bytes need the byte machine.
    pub fn stuff(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + 2);
        loop {
            if self.position != Position::AfterCr {
                let run = plain_lines(input, self.position == Position::LineStart);
                out.extend_from_slice(&input[..run.text_end]);
                if run.text_end > run.len {
                    self.position = Position::InLine;
                } else if run.len > 0 {
                    self.position = Position::LineStart;
                }
                input = &input[run.text_end..];
            }
            let Some((&byte, rest)) = input.split_first() else {
                return;
            };
            self.push(byte, out);
            input = rest;
        }
    }

    /// One byte through the state machine.
    fn push(&mut self, byte: u8, out: &mut Vec<u8>) {
        if self.position == Position::AfterCr {
            out.push(b'\n');
            self.position = Position::LineStart;
            if byte == b'\n' {
                return;
            }
        }
        match byte {
            b'.' if self.position == Position::LineStart => out.extend_from_slice(b".."),
            b'\r' => out.push(b'\r'),
            b'\n' => out.extend_from_slice(b"\r\n"),
            _ => out.push(byte),
        }
        self.position = match byte {
            b'\r' => Position::AfterCr,
            b'\n' => Position::LineStart,
            _ => Position::InLine,
        };
    }

    /// Ends the body: completes a last line that has no CRLF, then writes `.` CRLF.
    /// The stuffer is then ready for another body.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match std::mem::take(&mut self.position) {
            Position::LineStart => {}
            Position::AfterCr => out.push(b'\n'),
            Position::InLine => out.extend_from_slice(b"\r\n"),
        }
        out.extend_from_slice(b".\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::DataReceiver;

    fn stuffed(input: &[u8]) -> Vec<u8> {
        let mut stuffer = DotStuffer::new();
        let mut out = Vec::new();
        stuffer.stuff(input, &mut out);
        stuffer.finish(&mut out);
        out
    }

    #[test]
    fn stuffing_table() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b".\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            (b"a", b"a\r\n.\r\n"),
            (b".\r\n", b"..\r\n.\r\n"),
            (b".", b"..\r\n.\r\n"),
            (b"a\r\n.b\r\n..c\r\n", b"a\r\n..b\r\n...c\r\n.\r\n"),
            (b"a.b\r\n", b"a.b\r\n.\r\n"),
            (b"a\r\n\r\n.", b"a\r\n\r\n..\r\n.\r\n"),
            (b"a\n.\nb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a\r.\r", b"a\r\n..\r\n.\r\n"),
            (b"a\r\r\n.", b"a\r\n\r\n..\r\n.\r\n"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                stuffed(input).escape_ascii().to_string(),
                expected.escape_ascii().to_string(),
                "input {:?}",
                input.escape_ascii()
            );
        }
    }

    #[test]
    fn every_split_point_gives_the_same_output() {
        let body = b".start\r\nmid.dle\r\n.\r\n..\r\n\r\n.x\r\nend.";
        let whole = stuffed(body);
        for split in 0..=body.len() {
            let mut stuffer = DotStuffer::new();
            let mut out = Vec::new();
            stuffer.stuff(&body[..split], &mut out);
            stuffer.stuff(&body[split..], &mut out);
            stuffer.finish(&mut out);
            assert_eq!(out, whole, "split at {split}");
        }
    }

    #[test]
    fn one_byte_at_a_time_gives_the_same_output() {
        let body = b".a\r\n.\r\nb\r\n.";
        let mut stuffer = DotStuffer::new();
        let mut out = Vec::new();
        for byte in body {
            stuffer.stuff(std::slice::from_ref(byte), &mut out);
        }
        stuffer.finish(&mut out);
        assert_eq!(out, stuffed(body));
    }

    #[test]
    fn the_receiver_gets_the_body_back() {
        let bodies: &[&[u8]] = &[
            b"",
            b"Subject: x\r\n\r\n.\r\n..\r\n.hidden\r\n",
            b"no final line end.",
        ];
        for body in bodies {
            let wire = stuffed(body);
            let mut receiver = DataReceiver::default();
            let mut received = Vec::new();
            let progress = receiver.feed(&wire, &mut received);
            assert!(progress.done, "{:?}", body.escape_ascii());
            assert_eq!(progress.consumed, wire.len());
            let mut expected = body.to_vec();
            if !expected.is_empty() && !expected.ends_with(b"\r\n") {
                expected.extend_from_slice(b"\r\n");
            }
            assert_eq!(received, expected);
        }
    }

    /// Every input of up to 7 bytes over `.`, CR, LF and `a`, split at every point:
    /// the same output as feeding the state machine one byte at a time.
    #[test]
    fn the_bulk_copy_matches_the_byte_machine_exhaustively() {
        let alphabet = [b'.', b'\r', b'\n', b'a'];
        for len in 0..=7u32 {
            for code in 0..4usize.pow(len) {
                let input: Vec<u8> = (0..len)
                    .map(|digit| alphabet[code / 4usize.pow(digit) % 4])
                    .collect();
                let mut reference = DotStuffer::new();
                let mut expected = Vec::new();
                for &byte in &input {
                    reference.push(byte, &mut expected);
                }
                reference.finish(&mut expected);
                for split in 0..=input.len() {
                    let mut stuffer = DotStuffer::new();
                    let mut out = Vec::new();
                    stuffer.stuff(&input[..split], &mut out);
                    stuffer.stuff(&input[split..], &mut out);
                    stuffer.finish(&mut out);
                    assert_eq!(out, expected, "{input:?} split at {split}");
                }
            }
        }
    }

    /// Tens of KB of CRLF lines with rare dots, bare CRs and LFs at random places,
    /// stuffed in random chunks: the same output as the byte machine, and the
    /// receiver reads exactly to the end of it.
    #[test]
    fn long_bodies_in_random_chunks_match_the_byte_machine() {
        use crate::framing::data::test_bodies::{random_body, random_chunks, Rng};
        for seed in 0..120 {
            let mut rng = Rng::new(seed);
            let min_len = 10_000 + rng.below(40_000);
            let mut body = random_body(&mut rng, min_len, 100);
            body.extend_from_slice(&b".last\r"[..rng.below(7)]);
            let mut reference = DotStuffer::new();
            let mut expected = Vec::new();
            for &byte in &body {
                reference.push(byte, &mut expected);
            }
            reference.finish(&mut expected);
            for round in 0..4 {
                let mut stuffer = DotStuffer::new();
                let mut out = Vec::new();
                let mut rest = &body[..];
                for length in random_chunks(&mut rng, body.len()) {
                    let (chunk, after) = rest.split_at(length);
                    stuffer.stuff(chunk, &mut out);
                    rest = after;
                }
                stuffer.finish(&mut out);
                assert!(out == expected, "seed {seed} round {round}");
            }
            let progress = DataReceiver::default().feed(&expected, &mut Vec::new());
            assert!(progress.done, "seed {seed}");
            assert_eq!(progress.consumed, expected.len(), "seed {seed}");
        }
    }

    #[test]
    fn finish_resets_for_the_next_body() {
        let mut stuffer = DotStuffer::new();
        let mut out = Vec::new();
        stuffer.stuff(b"abc", &mut out);
        stuffer.finish(&mut out);
        out.clear();
        stuffer.stuff(b".x", &mut out);
        stuffer.finish(&mut out);
        assert_eq!(out, b"..x\r\n.\r\n");
    }
}
