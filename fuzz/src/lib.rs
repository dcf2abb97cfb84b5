//! Helpers shared by the posthorn-proto fuzz targets: turning fuzzer bytes into
//! chunkings and into SMTP-shaped input, and a reference model of DATA framing.
//!
//! The targets themselves live in `fuzz_targets/`; run them with
//! `scripts/fuzz-smoke` or `RUSTC_BOOTSTRAP=1 cargo fuzz run <target>`.

/// Tokens that make up SMTP command lines; random bytes index into this table so
/// the fuzzer reaches deep parser states instead of failing on the verb.
const SMTP_TOKENS: &[&[u8]] = &[
    b"MAIL FROM:",
    b"RCPT TO:",
    b"EHLO ",
    b"HELO ",
    b"BDAT ",
    b"AUTH ",
    b"DATA",
    b"RSET",
    b"QUIT",
    b"NOOP",
    b"VRFY ",
    b"EXPN ",
    b"HELP",
    b"STARTTLS",
    b"<",
    b">",
    b"<>",
    b"@",
    b".",
    b",",
    b":",
    b";",
    b"\"",
    b"\\",
    b" ",
    b"=",
    b"[",
    b"]",
    b"IPv6:",
    b"::1",
    b"192.0.2.1",
    b"Postmaster",
    b"user",
    b"example.com",
    b"-",
    b"SIZE",
    b"BODY",
    b"8BITMIME",
    b"BINARYMIME",
    b"7BIT",
    b"SMTPUTF8",
    b"RET",
    b"FULL",
    b"HDRS",
    b"ENVID",
    b"AUTH",
    b"NOTIFY",
    b"NEVER",
    b"SUCCESS",
    b"FAILURE",
    b"DELAY",
    b"ORCPT",
    b"rfc822;",
    b"+2B",
    b"+0A",
    b"+",
    b"0",
    b"1",
    b"18446744073709551616",
    b"LAST",
    b"PLAIN",
    b"AGZvbwBiYXI=",
    b"\xc3\xbc",
    b"\xff",
    b"\0",
    b"\r",
    b"\t",
    b"a",
    b"Z",
];

/// Maps each byte onto a token of [`SMTP_TOKENS`].
pub fn smtp_shaped(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 4);
    for &byte in data {
        out.extend_from_slice(SMTP_TOKENS[usize::from(byte) % SMTP_TOKENS.len()]);
    }
    out
}

/// Maps each byte onto the characters that matter to line framing.
pub fn framing_shaped(data: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8] = b"\r\n.\r\n.a\0";
    data.iter()
        .map(|&byte| ALPHABET[usize::from(byte) % ALPHABET.len()])
        .collect()
}

/// Chunk lengths (the last chunk takes the rest) derived from a seed.
pub fn chunk_lengths(seed: u32, total: usize) -> Vec<usize> {
    let mut state = seed | 1;
    let mut lengths = Vec::new();
    let mut covered = 0;
    while covered < total {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let length = (state % 17) as usize;
        let length = length.min(total - covered);
        lengths.push(length);
        covered += length;
    }
    lengths
}

/// Reference DATA framing: find the first CRLF "." CRLF (counting the CRLF that
/// ended the DATA command), then split the body at CRLF, bare CR and bare LF and
/// unstuff each line. Returns (body, bytes consumed) or `None` if not terminated.
pub fn reference_data(input: &[u8]) -> Option<(Vec<u8>, usize)> {
    let stream = [&b"\r\n"[..], input].concat();
    let end = stream
        .windows(5)
        .position(|window| window == b"\r\n.\r\n")?;
    let raw = &input[..end];
    let mut body = Vec::new();
    let mut line_start = 0;
    let mut index = 0;
    while index < raw.len() {
        let ending = match (raw[index], raw.get(index + 1)) {
            (b'\r', Some(b'\n')) => 2,
            (b'\r' | b'\n', _) => 1,
            _ => 0,
        };
        if ending == 0 {
            index += 1;
            continue;
        }
        let line = &raw[line_start..index];
        body.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        body.extend_from_slice(b"\r\n");
        index += ending;
        line_start = index;
    }
    Some((body, end + 3))
}

/// True when every CR in `bytes` is followed by LF and every LF preceded by CR.
pub fn only_crlf(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().all(|(index, &byte)| match byte {
        b'\r' => bytes.get(index + 1) == Some(&b'\n'),
        b'\n' => index > 0 && bytes[index - 1] == b'\r',
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_lengths_cover_the_input() {
        for seed in 0..50 {
            for total in [0, 1, 5, 100] {
                assert_eq!(chunk_lengths(seed, total).iter().sum::<usize>(), total);
            }
        }
    }

    #[test]
    fn reference_finds_the_first_terminator() {
        assert_eq!(reference_data(b".\r\n"), Some((vec![], 3)));
        assert_eq!(
            reference_data(b"a\n.\nb\r\n.\r\nx"),
            Some((b"a\r\n\r\nb\r\n".to_vec(), 10))
        );
        assert_eq!(reference_data(b"a\r\n.\n"), None);
    }

    #[test]
    fn only_crlf_spots_bare_endings() {
        assert!(only_crlf(b"a\r\nb\r\n"));
        assert!(!only_crlf(b"a\rb"));
        assert!(!only_crlf(b"\n"));
    }
}

/// The text a map or config fuzz target parses: the first byte picks the raw bytes (as
/// lossy UTF-8) or, when odd, the rest mapped onto `tokens` so the fuzzer writes
/// well-formed-looking lines. `None` for empty input.
pub fn text_or_shaped(data: &[u8], tokens: &[&str]) -> Option<String> {
    let (&mode, rest) = data.split_first()?;
    if mode & 1 == 0 || tokens.is_empty() {
        return Some(String::from_utf8_lossy(rest).into_owned());
    }
    Some(
        rest.iter()
            .map(|&byte| tokens[usize::from(byte) % tokens.len()])
            .collect(),
    )
}

/// What every map parser's errors must be, whatever the input: at least one, each on a
/// line of `text` (1-based) and with a message.
pub fn assert_line_errors<K: std::fmt::Display>(
    errors: &posthorn_policy::line_errors::LineErrors<K>,
    text: &str,
) {
    let lines = text.lines().count();
    assert!(!errors.0.is_empty(), "an error without a bad line");
    for error in &errors.0 {
        let line = error.line.unwrap_or(0);
        assert!(
            (1..=lines).contains(&line),
            "error at line {line} of {lines}"
        );
        assert!(!error.to_string().is_empty());
    }
}
