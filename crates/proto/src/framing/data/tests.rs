//! DATA framing tests: smuggling vectors, dot-stuffing, every split point, an
//! exhaustive comparison against a simple reference implementation, and long random
//! bodies in random chunks for the many-lines-at-once fast path.

use super::*;

/// Feeds `input` in one call; returns (body, consumed, done).
fn one_shot(input: &[u8]) -> (Vec<u8>, usize, bool) {
    feed_chunks(input, &[input.len()])
}

/// Feeds `input` split at the given cut lengths (the rest goes in a last chunk).
fn feed_chunks(input: &[u8], cuts: &[usize]) -> (Vec<u8>, usize, bool) {
    let mut receiver = DataReceiver::default();
    let mut body = Vec::new();
    let mut consumed = 0;
    let mut start = 0;
    let ends = cuts.iter().copied().chain(std::iter::once(input.len()));
    for end in ends {
        let progress = receiver.feed(&input[start..end], &mut body);
        consumed += progress.consumed;
        if progress.done {
            assert!(receiver.is_done());
            return (body, consumed, true);
        }
        assert_eq!(
            progress.consumed,
            end - start,
            "not done, so all input is used"
        );
        start = end;
    }
    (body, consumed, false)
}

/// Independent model: find the first CRLF "." CRLF (counting the CRLF that ended the
/// DATA command), then split the body at CRLF, bare CR and bare LF, unstuff each line.
fn reference(input: &[u8]) -> Option<(Vec<u8>, usize)> {
    let stream = [&b"\r\n"[..], input].concat();
    let k = stream.windows(5).position(|w| w == b"\r\n.\r\n")?;
    let raw = &input[..k];
    let mut body = Vec::new();
    let mut line_start = 0;
    let mut i = 0;
    while i < raw.len() {
        let ending = match (raw[i], raw.get(i + 1)) {
            (b'\r', Some(b'\n')) => 2,
            (b'\r' | b'\n', _) => 1,
            _ => 0,
        };
        if ending == 0 {
            i += 1;
            continue;
        }
        let line = &raw[line_start..i];
        body.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        body.extend_from_slice(b"\r\n");
        i += ending;
        line_start = i;
    }
    Some((body, k + 3))
}

fn assert_only_crlf(body: &[u8]) {
    for (i, &b) in body.iter().enumerate() {
        match b {
            b'\r' => assert_eq!(body.get(i + 1), Some(&b'\n'), "bare CR in {body:?}"),
            b'\n' => assert_eq!(body.get(i.wrapping_sub(1)), Some(&b'\r'), "bare LF"),
            _ => {}
        }
    }
}

#[test]
fn plain_message_and_trailing_command() {
    let input = b"Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n";
    let (body, consumed, done) = one_shot(input);
    assert!(done);
    assert_eq!(body, b"Subject: hi\r\n\r\nbody\r\n");
    assert_eq!(&input[consumed..], b"QUIT\r\n");
}

#[test]
fn empty_message() {
    assert_eq!(one_shot(b".\r\n"), (vec![], 3, true));
    assert_eq!(one_shot(b".\r\nRSET\r\n"), (vec![], 3, true));
    assert_eq!(one_shot(b""), (vec![], 0, false));
}

#[test]
fn dot_stuffing() {
    let (body, _, done) = one_shot(b"..\r\n...x\r\n.a\r\n a.\r\n.\r\n");
    assert!(done);
    assert_eq!(body, b".\r\n..x\r\na\r\n a.\r\n");
}

#[test]
fn smuggling_vectors_never_end_data() {
    let smuggled = b"MAIL FROM:<evil@x.example>\r\nRCPT TO:<victim@y.example>\r\nDATA\r\n";
    let cases: &[(&[u8], &[u8])] = &[
        (b"\n.\n", b"\r\n\r\n"),
        (b"\r.\r", b"\r\n\r\n"),
        (b"\r\n.\n", b"\r\n\r\n"),
        (b"\n.\r\n", b"\r\n\r\n"),
        (b"\r.\r\n", b"\r\n\r\n"),
        (b"\r\n.\r", b"\r\n\r\n"),
        (b"\r\r\n.\r\r\n", b"\r\n\r\n\r\n\r\n"),
        (b"\r\n\0.\r\n", b"\r\n\0.\r\n"),
        (b"\r\n .\r\n", b"\r\n .\r\n"),
        (b"\n\n.\n\n", b"\r\n\r\n\r\n\r\n"),
    ];
    for (vector, normalised) in cases {
        let input = [&b"Hi"[..], vector, smuggled, b"\r\n.\r\nNEXT"].concat();
        let (body, consumed, done) = one_shot(&input);
        let shown = vector.escape_ascii().to_string();
        assert!(done, "{shown}");
        assert_eq!(&input[consumed..], b"NEXT", "{shown}: ended early or late");
        let expected = [&b"Hi"[..], normalised, smuggled, b"\r\n"].concat();
        assert_eq!(body, expected, "{shown}");
        assert_only_crlf(&body);
    }
}

#[test]
fn flags() {
    let mut clean = DataReceiver::default();
    clean.feed(b"a\r\nb\r\n.\r\n", &mut Vec::new());
    assert!(!clean.saw_bare_line_ending() && !clean.saw_nul() && !clean.saw_long_line());

    for input in [&b"a\nb\r\n.\r\n"[..], b"a\rb\r\n.\r\n", b".\n.\r\n"] {
        let mut receiver = DataReceiver::default();
        receiver.feed(input, &mut Vec::new());
        assert!(receiver.saw_bare_line_ending(), "{}", input.escape_ascii());
    }
    let mut nul = DataReceiver::default();
    nul.feed(b"a\0b\r\n.\r\n", &mut Vec::new());
    assert!(nul.saw_nul());
}

#[test]
fn long_lines() {
    let check = |line_len: usize, ending: &[u8]| {
        let input = [
            vec![b'x'; line_len],
            ending.to_vec(),
            b"short\r\n.\r\n".to_vec(),
        ]
        .concat();
        let mut receiver = DataReceiver::new(998);
        let mut body = Vec::new();
        for byte in input.chunks(1) {
            receiver.feed(byte, &mut body);
        }
        assert!(receiver.is_done());
        receiver.saw_long_line()
    };
    assert!(!check(998, b"\r\n"));
    assert!(check(999, b"\r\n"));
    assert!(!check(998, b"\n"), "a bare LF resets the line length too");
    // A stuffed dot is not part of the line.
    let stuffed = [b".".to_vec(), vec![b'x'; 998], b"\r\n.\r\n".to_vec()].concat();
    let mut receiver = DataReceiver::new(998);
    receiver.feed(&stuffed, &mut Vec::new());
    assert!(!receiver.saw_long_line());
}

#[test]
fn every_split_point_gives_the_one_shot_result() {
    let inputs: &[&[u8]] = &[
        b"Hi\r\n..x\r\n\n.\n\r.\r\r\r\n.\r\r\nend\r\n.\r\nQUIT\r\n",
        b".\r\nafter",
        b"a\r\n.\r\r\n.\r\n",
        b"\r\n\r\n.\r\n",
        b"x\r",
    ];
    for input in inputs {
        let whole = one_shot(input);
        let bytewise: Vec<usize> = (1..input.len()).collect();
        assert_eq!(feed_chunks(input, &bytewise), whole, "byte by byte");
        for cut in 0..=input.len() {
            assert_eq!(feed_chunks(input, &[cut]), whole, "cut at {cut}");
        }
    }
}

#[test]
fn exhaustive_small_inputs_match_the_reference() {
    const ALPHABET: [u8; 4] = [b'\r', b'\n', b'.', b'a'];
    let mut checked = 0;
    for len in 0..=7u32 {
        for mut code in 0..ALPHABET.len().pow(len) {
            let mut input = Vec::new();
            for _ in 0..len {
                input.push(ALPHABET[code % ALPHABET.len()]);
                code /= ALPHABET.len();
            }
            input.extend_from_slice(b"\r\n.\r\n");
            let expected = reference(&input).expect("input ends with a terminator");
            let (body, consumed, done) = one_shot(&input);
            assert!(done);
            assert_eq!(
                (&body, consumed),
                (&expected.0, expected.1),
                "{}",
                input.escape_ascii()
            );
            assert_only_crlf(&body);
            for cut in 1..input.len() {
                assert_eq!(feed_chunks(&input, &[cut]), (body.clone(), consumed, true));
            }
            checked += 1;
        }
    }
    assert_eq!(checked, (0..=7).map(|n| 4usize.pow(n)).sum::<usize>());
}

/// Everything one run of a receiver over some input shows.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    body: Vec<u8>,
    consumed: usize,
    done: bool,
    /// (bare line ending, long line, NUL)
    flags: (bool, bool, bool),
}

/// Feeds `input` in chunks of the given lengths, stopping once done.
fn feed_lengths(input: &[u8], lengths: &[usize], max_line_len: usize) -> Outcome {
    let mut receiver = DataReceiver::new(max_line_len);
    let mut body = Vec::new();
    let mut consumed = 0;
    for &length in lengths {
        let progress = receiver.feed(&input[consumed..consumed + length], &mut body);
        consumed += progress.consumed;
        if progress.done {
            break;
        }
        assert_eq!(progress.consumed, length, "not done, so all input is used");
    }
    Outcome {
        body,
        consumed,
        done: receiver.is_done(),
        flags: (
            receiver.saw_bare_line_ending(),
            receiver.saw_long_line(),
            receiver.saw_nul(),
        ),
    }
}

/// The flags the module doc implies for a terminated input, from the bytes before
/// the terminator (`reference` finds it) and the lines of the reference body.
fn reference_flags(input: &[u8], max_line_len: usize) -> (bool, bool, bool) {
    let (body, consumed) = reference(input).expect("input has a terminator");
    let raw = &input[..consumed - 3];
    let bare = raw.iter().enumerate().any(|(i, &byte)| match byte {
        b'\r' => raw.get(i + 1) != Some(&b'\n'),
        b'\n' => i == 0 || raw[i - 1] != b'\r',
        _ => false,
    });
    let long = body
        .split(|&byte| byte == b'\n')
        .any(|line| line.strip_suffix(b"\r").unwrap_or(line).len() > max_line_len);
    (bare, long, raw.contains(&0))
}

/// Tens of KB of CRLF lines with rare special cases (dots, bare CR/LF, NUL, lines
/// around the limit, smuggling vectors), a terminator or not at the end, fed whole
/// and in random chunks: the same as the byte-at-a-time state machine (a one-byte
/// chunk never holds a whole line, so it never takes the fast path) and as the
/// reference model.
#[test]
fn long_bodies_in_random_chunks_match_the_byte_machine() {
    use super::test_bodies::{random_body, random_chunks, Rng};
    const MAX_LINE_LEN: usize = 100;
    for seed in 0..120 {
        let mut rng = Rng::new(seed);
        let min_len = 10_000 + rng.below(40_000);
        let mut input = random_body(&mut rng, min_len, MAX_LINE_LEN);
        let terminator_at = input.len();
        let terminated = rng.below(3) > 0;
        if terminated {
            input.extend_from_slice(b".\r\n");
            input.extend(random_body(&mut rng, 300, MAX_LINE_LEN));
        } else {
            input.extend_from_slice(&b"unfinished\r"[..rng.below(12)]);
        }

        let bytewise = feed_lengths(&input, &vec![1; input.len()], MAX_LINE_LEN);
        assert_eq!(bytewise.done, terminated, "seed {seed}");
        if terminated {
            assert_eq!(bytewise.consumed, terminator_at + 3, "seed {seed}");
            let expected = reference(&input).expect("terminated");
            assert_eq!(
                (&bytewise.body, bytewise.consumed),
                (&expected.0, expected.1)
            );
            let flags = reference_flags(&input, MAX_LINE_LEN);
            assert_eq!(bytewise.flags, flags, "seed {seed}");
        } else {
            assert_eq!(bytewise.consumed, input.len(), "seed {seed}");
        }
        let one_shot = feed_lengths(&input, &[input.len()], MAX_LINE_LEN);
        assert!(one_shot == bytewise, "seed {seed}: one shot");
        for round in 0..4 {
            let chunks = random_chunks(&mut rng, input.len());
            let chunked = feed_lengths(&input, &chunks, MAX_LINE_LEN);
            assert!(chunked == bytewise, "seed {seed} round {round}: {chunks:?}");
        }
    }
}

/// The random bodies above really hold each special case and each flag, so the
/// comparison covers them.
#[test]
fn the_random_bodies_hold_every_special_case() {
    use super::test_bodies::{random_body, Rng};
    let mut flags_seen = (false, false, false);
    let mut dot_lines = 0;
    for seed in 0..20 {
        let body = random_body(&mut Rng::new(seed), 20_000, 100);
        let outcome = feed_lengths(&[&body[..], b".\r\n"].concat(), &[body.len() + 3], 100);
        flags_seen.0 |= outcome.flags.0;
        flags_seen.1 |= outcome.flags.1;
        flags_seen.2 |= outcome.flags.2;
        dot_lines += body.windows(3).filter(|w| w == b"\r\n.").count();
    }
    assert_eq!(flags_seen, (true, true, true));
    assert!(dot_lines > 20, "{dot_lines} dot lines");
}
