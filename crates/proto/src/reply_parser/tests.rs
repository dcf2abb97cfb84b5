//! Reply parser tests: single and multi-line replies, enhanced status codes,
//! limits, and incremental feeding.

use super::*;

/// Feeds `input` in chunks of `chunk` bytes through a caller-side buffer and
/// collects every reply, as a client driver would.
fn parse_all(input: &[u8], chunk: usize) -> Result<Vec<Reply>, ReplyError> {
    let mut parser = ReplyParser::default();
    let mut buffer = Vec::new();
    let mut replies = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buffer.extend_from_slice(piece);
        loop {
            let progress = parser.feed(&buffer)?;
            buffer.drain(..progress.consumed);
            match progress.reply {
                Some(reply) => replies.push(reply),
                None => break,
            }
        }
    }
    Ok(replies)
}

/// `(class, subject, detail)` of an expected enhanced status.
type Status = Option<(u8, u16, u16)>;

fn reply(code: u16, status: Status, lines: &[&'static str]) -> Reply {
    Reply {
        code,
        status: status.map(|(c, s, d)| EnhancedStatus::new(c, s, d)),
        lines: lines.iter().map(|line| Cow::Borrowed(*line)).collect(),
    }
}

#[test]
fn single_and_multi_line_replies() {
    let cases: &[(&[u8], Vec<Reply>)] = &[
        (
            b"220 mx.example ESMTP\r\n",
            vec![reply(220, None, &["mx.example ESMTP"])],
        ),
        (
            b"250 2.1.0 Ok\r\n",
            vec![reply(250, Some((2, 1, 0)), &["Ok"])],
        ),
        (b"250\r\n", vec![reply(250, None, &[""])]),
        (b"250 \r\n", vec![reply(250, None, &[""])]),
        (
            b"354 End data with <CR><LF>.<CR><LF>\n",
            vec![reply(354, None, &["End data with <CR><LF>.<CR><LF>"])],
        ),
        (
            b"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 STARTTLS\r\n",
            vec![reply(
                250,
                None,
                &["mx.example", "PIPELINING", "SIZE 1000", "STARTTLS"],
            )],
        ),
        (
            b"550-5.7.1 Relaying\r\n550-5.7.1 denied\r\n550 5.7.1 here\r\n",
            vec![reply(550, Some((5, 7, 1)), &["Relaying", "denied", "here"])],
        ),
        (
            b"250-first\r\n250-\r\n250 last\r\n452 4.5.3 Too many\r\n",
            vec![
                reply(250, None, &["first", "", "last"]),
                reply(452, Some((4, 5, 3)), &["Too many"]),
            ],
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            &parse_all(input, 1000),
            &Ok(expected.clone()),
            "{}",
            input.escape_ascii()
        );
    }
}

#[test]
fn enhanced_status_only_when_it_fits_the_code() {
    let cases: &[(&[u8], Status, &str)] = &[
        (b"250 2.0.0 Ok", Some((2, 0, 0)), "Ok"),
        (b"451 4.7.650 later", Some((4, 7, 650)), "later"),
        (b"550 5.1.1", Some((5, 1, 1)), ""),
        (b"250 5.1.0 mismatch", None, "5.1.0 mismatch"),
        (b"354 3.0.0 go", None, "3.0.0 go"),
        (b"250 2.1 short", None, "2.1 short"),
        (b"250 2.1.0.0 long", None, "2.1.0.0 long"),
        (b"250 2.1000.0 big", None, "2.1000.0 big"),
        (b"250 2..0 empty", None, "2..0 empty"),
        (b"250 2.1.0x junk", None, "2.1.0x junk"),
        (b"250 22.1.0 class", None, "22.1.0 class"),
    ];
    for (line, status, text) in cases {
        let input = [*line, b"\r\n"].concat();
        let expected = Reply {
            code: (line[0] - b'0') as u16 * 100
                + (line[1] - b'0') as u16 * 10
                + (line[2] - b'0') as u16,
            status: status.map(|(c, s, d)| EnhancedStatus::new(c, s, d)),
            lines: vec![Cow::Owned(text.to_string())],
        };
        assert_eq!(
            parse_all(&input, 1000),
            Ok(vec![expected]),
            "{}",
            line.escape_ascii()
        );
    }
}

#[test]
fn malformed_replies() {
    let cases: &[(&[u8], ReplyError)] = &[
        (b"hello\r\n", ReplyError::BadCode),
        (b"25\r\n", ReplyError::BadCode),
        (b"650 no\r\n", ReplyError::BadCode),
        (b"260 no\r\n", ReplyError::BadCode),
        (b"2a0 no\r\n", ReplyError::BadCode),
        (b"\r\n", ReplyError::BadCode),
        (b"250x\r\n", ReplyError::BadSeparator),
        (b"250\tOk\r\n", ReplyError::BadSeparator),
        (
            b"250-a\r\n550 b\r\n",
            ReplyError::MixedCodes {
                first: 250,
                then: 550,
            },
        ),
    ];
    for (input, error) in cases {
        assert_eq!(
            parse_all(input, 1000),
            Err(*error),
            "{}",
            input.escape_ascii()
        );
    }
}

#[test]
fn limits() {
    let long = [
        b"250 ".to_vec(),
        vec![b'x'; DEFAULT_MAX_LINE_LEN],
        b"\r\n".to_vec(),
    ]
    .concat();
    assert_eq!(parse_all(&long, 1000), Err(ReplyError::LineTooLong));
    assert_eq!(parse_all(&long, 7), Err(ReplyError::LineTooLong));
    let fits = [
        b"250 ".to_vec(),
        vec![b'x'; DEFAULT_MAX_LINE_LEN - 6],
        b"\r\n".to_vec(),
    ]
    .concat();
    assert!(parse_all(&fits, 1000).is_ok());

    let many = |n: usize| [b"250-x\r\n".repeat(n - 1), b"250 x\r\n".to_vec()].concat();
    assert_eq!(
        parse_all(&many(DEFAULT_MAX_LINES), 64).map(|r| r[0].lines.len()),
        Ok(DEFAULT_MAX_LINES)
    );
    assert_eq!(
        parse_all(&many(DEFAULT_MAX_LINES + 1), 64),
        Err(ReplyError::TooManyLines)
    );
}

#[test]
fn incremental_feeding_matches_one_shot() {
    let input: &[u8] =
        b"220 hi\r\n250-mx\r\n250-8BITMIME\r\n250 2.0.0 SMTPUTF8\r\n354 go\n221 2.0.0 bye\r\n";
    let whole = parse_all(input, input.len());
    assert_eq!(whole.as_ref().map(Vec::len), Ok(4));
    for chunk in 1..input.len() {
        assert_eq!(parse_all(input, chunk), whole, "chunk {chunk}");
    }
}

#[test]
fn partial_line_is_not_consumed_and_complete_lines_are() {
    let mut parser = ReplyParser::default();
    let progress = parser.feed(b"250-a\r\n250 b").expect("valid so far");
    assert_eq!(
        progress,
        ReplyProgress {
            consumed: 7,
            reply: None
        }
    );
    let progress = parser.feed(b"250 b\r\nnext").expect("valid");
    assert_eq!(progress.consumed, 7);
    assert_eq!(progress.reply, Some(reply(250, None, &["a", "b"])));
}

#[test]
fn invalid_utf8_text_is_kept_lossily() {
    let replies = parse_all(b"250 caf\xe9\r\n", 100).expect("valid reply");
    assert_eq!(
        replies[0].lines,
        vec![Cow::<str>::Owned("caf\u{fffd}".into())]
    );
}

/// Found by the `reply_parser` fuzz target: a CR inside the text is written as a
/// space, so it must parse as one, or passing the reply on would make a status
/// appear (and every line grow by it, past the line limit).
#[test]
fn a_cr_inside_the_text_reads_as_the_space_it_is_written_as() {
    let replies = parse_all(b"250-2.1.5\rfirst\r\n250 second\r\n", 100).expect("valid reply");
    assert_eq!(
        replies[0],
        reply(250, Some((2, 1, 5)), &["first", "second"])
    );
    let mut written = Vec::new();
    replies[0].write_to(&mut written);
    assert_eq!(parse_all(&written, 100).expect("written reply"), replies);
}
