//! The reply parser under random chunkings. Input: 4 bytes of chunking seed, then
//! the server's byte stream. Checks: chunked == one-shot; replies are well formed;
//! writing a parsed reply and parsing it again gives the same bytes.
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
        let mut written = Vec::new();
        reply.write_to(&mut written);
        if let Ok(again) = parse(&written, &[written.len()]) {
            assert_eq!(again.len(), 1);
            let mut rewritten = Vec::new();
            again[0].write_to(&mut rewritten);
            assert_eq!(written, rewritten);
        }
    }
});
