//! The spool file decoder (`posthorn_spool::decode_file`). The mode byte picks the input:
//! 0: raw bytes; 1: records the harness frames with a correct length and CRC, so the
//! fuzzer gets past the checksums; 2: a real message file (`seeds/spool_message.bin`,
//! written by `posthorn sendmail`) with such records appended, to reach the update
//! decoder; 3: that file with its envelope payload edited and re-framed, to reach the
//! envelope decoder from a valid start.
//!
//! Checks: no panic; a file that decodes has its valid prefix inside it, reaching its
//! end unless a torn tail follows; cutting the file back to that prefix (what recovery
//! does) decodes to the same message with no torn tail; the unedited seed decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posthorn_spool::{decode_file, DecodedFile};

/// A committed message with two recipients, then Hold and Release records.
const SEED: &[u8] = include_bytes!("../seeds/spool_message.bin");
const HEADER_LEN: usize = 8;

/// Appends one record as the spool writes it: `[u32 length][kind][payload][u32 crc]`.
fn push_record(kind: u8, payload: &[u8], out: &mut Vec<u8>) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[kind]);
    crc.update(payload);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.push(kind);
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
}

/// Input as `[kind][u16 length][payload]...`, each framed with a correct CRC; kinds
/// 1..=7 are real, 0 and 8 are not. Leftover bytes go on raw: a torn tail.
fn append_framed(mut data: &[u8], out: &mut Vec<u8>) {
    while let [kind, low, high, rest @ ..] = data {
        let length = usize::from(u16::from_le_bytes([*low, *high])).min(rest.len());
        let (payload, after) = rest.split_at(length);
        push_record(kind % 9, payload, out);
        data = after;
    }
    out.extend_from_slice(data);
}

/// The seed with its envelope payload edited by `(position, xor mask)` pairs, the
/// first input byte optionally cutting the payload short, then re-framed.
fn edited_envelope(data: &[u8]) -> Vec<u8> {
    let envelope_len = u32::from_le_bytes([SEED[8], SEED[9], SEED[10], SEED[11]]) as usize;
    let payload_start = HEADER_LEN + 5;
    let mut payload = SEED[payload_start..payload_start + envelope_len].to_vec();
    let (cut, edits) = data.split_first().map_or((0, data), |(&c, e)| (c, e));
    for pair in edits.chunks_exact(2) {
        let position = usize::from(pair[0]) % payload.len();
        payload[position] ^= pair[1];
    }
    if cut & 0x80 != 0 {
        payload.truncate(usize::from(cut & 0x7f) % payload.len());
    }
    let mut out = SEED[..HEADER_LEN].to_vec();
    push_record(SEED[HEADER_LEN + 4], &payload, &mut out);
    out.extend_from_slice(&SEED[payload_start + envelope_len + 4..]);
    out
}

fn file_for(mode: u8, data: &[u8]) -> Vec<u8> {
    match mode % 4 {
        0 => data.to_vec(),
        1 => {
            let mut out = SEED[..HEADER_LEN].to_vec();
            append_framed(data, &mut out);
            out
        }
        2 => {
            let mut out = SEED.to_vec();
            append_framed(data, &mut out);
            out
        }
        _ => edited_envelope(data),
    }
}

fuzz_target!(|data: &[u8]| {
    assert!(decode_file(SEED).is_ok_and(|seed| !seed.torn_tail && !seed.held));
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = file_for(mode, rest);
    let Ok(decoded) = decode_file(&file) else {
        return;
    };
    let valid_len = usize::try_from(decoded.valid_len).unwrap_or(usize::MAX);
    assert!((HEADER_LEN..=file.len()).contains(&valid_len));
    assert_eq!(
        decoded.torn_tail,
        valid_len < file.len(),
        "tail without torn_tail"
    );
    assert!(decoded.body_size <= file.len() as u64);
    let cut = decode_file(&file[..valid_len]);
    let expected = DecodedFile {
        torn_tail: false,
        ..decoded
    };
    assert_eq!(
        cut,
        Ok(expected),
        "cutting the torn tail changed the message"
    );
});
