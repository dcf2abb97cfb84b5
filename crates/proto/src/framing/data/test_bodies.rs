//! Test inputs for the fast paths of DATA framing: long bodies of ordinary CRLF
//! lines with rare special cases at random places, and random chunkings, from a
//! small deterministic PRNG (so a failing seed can be replayed).

/// xorshift64: small, deterministic, good enough to scatter test cases.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // Spread small seeds over the state; xorshift must not start at 0.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Line text: no CR, LF, dot or NUL, so only the special cases add those.
const TEXT: &[u8] = b"abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789,:;-<>@";

fn push_text(rng: &mut Rng, len: usize, body: &mut Vec<u8>) {
    body.extend((0..len).map(|_| TEXT[rng.below(TEXT.len())]));
}

/// Appends one line ending with CRLF; about one line in `special_one_in` holds a
/// special case. Never a line that is exactly `.` after a CRLF (that would end DATA).
fn push_line(rng: &mut Rng, max_line_len: usize, special_one_in: usize, body: &mut Vec<u8>) {
    if !rng.one_in(special_one_in) {
        let len = rng.below(90);
        push_text(rng, len, body);
    } else if rng.one_in(12) {
        // Around the line limit: the fast path must count exactly.
        let len = max_line_len - 2 + rng.below(5);
        push_text(rng, len, body);
    } else {
        let (before, after) = (rng.below(20), rng.below(20));
        push_text(rng, before, body);
        body.extend_from_slice(special_case(rng));
        push_text(rng, after, body);
    }
    body.extend_from_slice(b"\r\n");
}

/// Dots (at a line start when the text before is empty, else mid-line), bare line
/// endings, NUL and the smuggling vectors.
fn special_case(rng: &mut Rng) -> &'static [u8] {
    const CASES: [&[u8]; 11] = [
        b".x", b"..", b"\n", b"\r", b"\r\r\n", b"\0", b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n",
        b"\r\n.\r",
    ];
    CASES[rng.below(CASES.len())]
}

/// A body of CRLF lines, at least `min_len` bytes, ending with CRLF.
pub fn random_body(rng: &mut Rng, min_len: usize, max_line_len: usize) -> Vec<u8> {
    let special_one_in = [5, 30, 200][rng.below(3)];
    let mut body = Vec::with_capacity(min_len + 2 * max_line_len);
    while body.len() < min_len {
        push_line(rng, max_line_len, special_one_in, &mut body);
    }
    body
}

/// Chunk lengths adding up to `total`: mostly large, some tiny, so chunk ends fall
/// inside lines, on CR, on LF and around dots.
pub fn random_chunks(rng: &mut Rng, total: usize) -> Vec<usize> {
    let mut chunks = Vec::new();
    let mut left = total;
    while left > 0 {
        let limit = [3, 100, 5000, 70_000][rng.below(4)];
        let len = (1 + rng.below(limit)).min(left);
        chunks.push(len);
        left -= len;
    }
    chunks
}
