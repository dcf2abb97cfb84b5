//! The reply parser under random chunkings. Input: 4 bytes of chunking seed, then
//! the server's byte stream. Checks: chunked == one-shot; replies are well formed;
//! once written (which turns a stray CR or LF in the text into a space), a reply
//! parses and writes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posthorn_proto::reply_parser::{ReplyError, ReplyParser};
use posthorn_proto::Reply;
use posthorn_proto_fuzz::chunk_lengths;

fn parse(input: &[u8], chunks: &[usize]) -> Result<Vec<Reply>, ReplyError> {
    let mut parser = ReplyParser::default();
    let mut buffer = Vec::new();
    let mut replies = Vec::new();
    let mut start = 0;
    for &length in chunks {
        buffer.extend_from_slice(&input[start..start + length]);
        start += length;
        loop {
            let progress = parser.feed(&buffer)?;
            assert!(progress.consumed <= buffer.len());
            buffer.drain(..progress.consumed);
            match progress.reply {
                Some(reply) => replies.push(reply),
                None => break,
            }
        }
    }
    Ok(replies)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let seed = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let input = &data[4..];
    let whole = parse(input, &[input.len()]);
    assert_eq!(whole, parse(input, &chunk_lengths(seed, input.len())));
    for reply in whole.iter().flatten() {
        assert!((200..=559).contains(&reply.code));
        assert!(!reply.lines.is_empty());
        if let Some(status) = reply.status {
            assert_eq!(u16::from(status.class), reply.code / 100);
        }
        let written = write(reply);
        let Some(second) = reparse_and_write(&written) else {
            continue;
        };
        assert_eq!(reparse_and_write(&second).as_ref(), Some(&second));
    }
});

fn write(reply: &Reply) -> Vec<u8> {
    let mut out = Vec::new();
    reply.write_to(&mut out);
    out
}

/// None when the written form no longer fits the parser's limits.
fn reparse_and_write(written: &[u8]) -> Option<Vec<u8>> {
    let replies = parse(written, &[written.len()]).ok()?;
    assert_eq!(replies.len(), 1, "one written reply parses as one reply");
    Some(write(&replies[0]))
}
