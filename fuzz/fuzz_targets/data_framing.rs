//! DATA framing under random chunkings. Input: 4 bytes of chunking seed, 1 mode
//! byte (odd: map the rest onto CR/LF/dot-heavy bytes), then the stream.
//! Checks: chunked == one-shot; the body never holds a bare CR or LF; `done` exactly
//! at the first CRLF "." CRLF, with the body the reference model gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posthorn_proto::framing::DataReceiver;
use posthorn_proto_fuzz::{chunk_lengths, framing_shaped, only_crlf, reference_data};

fn run(input: &[u8], chunks: &[usize]) -> (Vec<u8>, usize, bool) {
    let mut receiver = DataReceiver::new(20);
    let mut body = Vec::new();
    let mut start = 0;
    let mut consumed = 0;
    for &length in chunks {
        let progress = receiver.feed(&input[start..start + length], &mut body);
        consumed += progress.consumed;
        if progress.done {
            return (body, consumed, true);
        }
        assert_eq!(progress.consumed, length, "not done but input left over");
        start += length;
    }
    (body, consumed, false)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let seed = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let input = if data[4] & 1 == 1 {
        framing_shaped(&data[5..])
    } else {
        data[5..].to_vec()
    };

    let whole = run(&input, &[input.len()]);
    let chunked = run(&input, &chunk_lengths(seed, input.len()));
    assert_eq!(whole, chunked, "chunking changed the result");

    let (body, consumed, done) = whole;
    assert!(only_crlf(&body), "bare line ending in the body");
    match reference_data(&input) {
        Some((expected_body, expected_consumed)) => {
            assert!(done, "terminator missed");
            assert_eq!(consumed, expected_consumed, "ended at the wrong place");
            assert_eq!(body, expected_body);
        }
        None => {
            assert!(!done, "ended without CRLF.CRLF");
            assert_eq!(consumed, input.len());
        }
    }
});
