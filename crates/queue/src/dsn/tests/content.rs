//! When no DSN may be sent, who is reported, and content that must not break
//! the report: the boundary, 8-bit text, size, hostile values, read errors.

use super::*;

#[test]
fn the_null_sender_never_gets_a_dsn() {
    let null = ReversePath::Null;
    let request = request(
        &null,
        vec![failed(), delayed(), delivered(DsnAction::Delivered)],
    );
    assert_eq!(build(&request, ORIGINAL), None);
}

#[test]
fn notify_decides_per_action() {
    let none = None;
    let never = Some(Notify {
        never: true,
        ..Notify::default()
    });
    let success = Some(Notify {
        success: true,
        ..Notify::default()
    });
    let failure_delay = Some(Notify {
        failure: true,
        delay: true,
        ..Notify::default()
    });
    let actions = [
        DsnAction::Failed,
        DsnAction::Delayed,
        DsnAction::Delivered,
        DsnAction::Relayed,
    ];
    let table: Vec<Vec<bool>> = [none, never, success, failure_delay]
        .into_iter()
        .map(|notify| {
            actions
                .iter()
                .map(|&a| wants_notification(notify, a))
                .collect()
        })
        .collect();
    assert_eq!(
        table,
        vec![
            vec![true, true, false, false],
            vec![false, false, false, false],
            vec![false, false, true, true],
            vec![true, true, false, false],
        ]
    );
}

#[test]
fn no_dsn_when_notify_asks_for_nothing_of_this_kind() {
    let sender = sender();
    let request = request(&sender, vec![failed()]);
    let never = Some(Notify {
        never: true,
        ..Notify::default()
    });
    let success_only = Some(Notify {
        success: true,
        ..Notify::default()
    });
    for notify in [never, success_only] {
        let dsn = build_dsn(
            &request,
            |r| wants_notification(notify, r.action),
            &mut &ORIGINAL[..],
        )
        .expect("no I/O error");
        assert_eq!(dsn, None, "{notify:?}");
    }
}

#[test]
fn only_recipients_that_asked_are_reported() {
    let sender = sender();
    let mut quiet = failed();
    quiet.address = "quiet@example.org".into();
    let request = request(&sender, vec![quiet, failed()]);
    let dsn = build_dsn(
        &request,
        |r| r.address != "quiet@example.org",
        &mut &ORIGINAL[..],
    )
    .expect("no I/O error")
    .expect("bob asked");
    let message = parse(&dsn);
    let finals: Vec<String> = status_groups(&message)
        .into_iter()
        .flatten()
        .filter(|(name, _)| name == "Final-Recipient")
        .map(|(_, value)| value)
        .collect();
    assert_eq!(finals, ["rfc822; bob@example.org"]);
    assert!(!explanation(&message).contains("quiet@"));
}

#[test]
fn an_original_holding_the_boundary_does_not_break_the_structure() {
    let sender = sender();
    let request = request(&sender, vec![failed()]);
    let plain = build_some(&request, ORIGINAL);
    let boundary = parse(&plain)
        .content_type()
        .and_then(|t| t.attribute("boundary"))
        .expect("boundary")
        .to_owned();
    let hostile = format!(
        "Subject: tricky\r\n\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\nfake\r\n--{boundary}--\r\n"
    );
    let dsn = build_some(&request, hostile.as_bytes());
    let message = parse(&dsn);
    let chosen = message
        .content_type()
        .and_then(|t| t.attribute("boundary"))
        .expect("boundary");
    assert_ne!(chosen, boundary);
    assert_eq!(
        part_types(&message),
        ["text/plain", "message/delivery-status", "message/rfc822"]
    );
    let (_, returned) = returned_part(&message);
    let nested = returned.message().expect("nested message");
    assert_eq!(nested.raw_message(), hostile.as_bytes());
}

#[test]
fn an_eight_bit_original_marks_the_dsn_eight_bit() {
    let sender = sender();
    let request = request(&sender, vec![failed()]);
    let original = "Subject: Grüße\r\n\r\nSchöne Grüße\r\n".as_bytes();
    let dsn = build_some(&request, original);
    assert!(dsn.eight_bit);
    let message = parse(&dsn);
    let (_, part) = returned_part(&message);
    assert_eq!(part.content_transfer_encoding(), Some("8bit"));
    assert_eq!(part.message().map(|m| m.raw_message()), Some(original));
}

#[test]
fn an_original_over_the_cap_goes_back_as_its_header() {
    let sender = sender();
    let request = request(&sender, vec![failed()]);
    let mut original = ORIGINAL_HEADER.to_vec();
    original.extend_from_slice(b"\r\n");
    let line = [b"x".repeat(76), b"\r\n".to_vec()].concat();
    while original.len() <= MAX_RETURNED_MESSAGE {
        original.extend_from_slice(&line);
    }
    let dsn = build_some(&request, &original);
    let message = parse(&dsn);
    let (content_type, part) = returned_part(&message);
    assert_eq!(content_type, "text/rfc822-headers");
    assert_eq!(part.contents(), ORIGINAL_HEADER);
}

#[test]
fn an_empty_original_leaves_out_the_third_part() {
    let sender = sender();
    let request = request(&sender, vec![failed()]);
    let dsn = build_some(&request, b"");
    let message = parse(&dsn);
    assert_eq!(
        part_types(&message),
        ["text/plain", "message/delivery-status"]
    );
}

#[test]
fn a_read_error_from_the_original_is_returned() {
    struct Broken;
    impl io::Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }
    let sender = sender();
    let request = request(&sender, vec![failed()]);
    let error = build_dsn(&request, |_| true, &mut Broken).expect_err("the error comes back");
    assert_eq!(error.to_string(), "disk on fire");
}

#[test]
fn hostile_values_cannot_add_fields_or_long_lines() {
    let sender = sender();
    let mut recipient = failed();
    recipient.diagnostic = Some(format!(
        "550 5.7.1 {}\r\nAction: delivered",
        "blah ".repeat(400)
    ));
    recipient.remote_mta = Some("mx.example.org\r\nStatus: 2.0.0".into());
    let request = request(&sender, vec![recipient]);
    let dsn = build_some(&request, ORIGINAL);
    let message = parse(&dsn);
    let groups = status_groups(&message);
    let names: Vec<&str> = groups[1].iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Original-Recipient",
            "Final-Recipient",
            "Action",
            "Status",
            "Remote-MTA",
            "Diagnostic-Code",
            "Last-Attempt-Date"
        ]
    );
    assert_eq!(groups[1][2].1, "failed");
    assert_eq!(groups[1][3].1, "5.1.1");
}

#[test]
fn utf8_in_the_sender_or_a_reply_marks_the_dsn_eight_bit() {
    let utf8_sender = ReversePath::Mailbox(Mailbox {
        local_part: "jörg".into(),
        domain: Domain::Name("example.com".into()),
    });
    let mut utf8_reply = failed();
    utf8_reply.diagnostic = Some("550 5.1.1 Empfänger unbekannt".into());
    let ascii_sender = sender();
    let cases = [
        (&utf8_sender, failed(), true, "7bit"),
        (&ascii_sender, utf8_reply, true, "8bit"),
        (&ascii_sender, failed(), false, "7bit"),
    ];
    for (sender, recipient, eight_bit, text_encoding) in cases {
        let request = request(sender, vec![recipient]);
        let dsn = build_some(&request, ORIGINAL);
        assert_eq!(dsn.eight_bit, eight_bit, "{sender}");
        let message = parse(&dsn);
        let (_, text) = parts(&message).into_iter().next().expect("text part");
        assert_eq!(
            text.content_transfer_encoding(),
            Some(text_encoding),
            "{sender}"
        );
        let status = status_groups(&message);
        assert!(status
            .iter()
            .flatten()
            .all(|(n, v)| n.is_ascii() && v.is_ascii()));
    }
}

#[test]
fn a_utf8_reply_is_kept_in_the_text_and_made_ascii_in_the_fields() {
    let sender = sender();
    let mut recipient = failed();
    recipient.diagnostic = Some("550 5.1.1 Empfänger unbekannt".into());
    let dsn = build_some(&request(&sender, vec![recipient]), ORIGINAL);
    let message = parse(&dsn);
    let unwrapped = explanation(&message).replace("\r\n    ", " ");
    assert!(
        unwrapped.contains("said: 550 5.1.1 Empfänger unbekannt"),
        "{unwrapped}"
    );
    let groups = status_groups(&message);
    let diagnostic = groups[1].iter().find(|(name, _)| name == "Diagnostic-Code");
    assert_eq!(
        diagnostic.map(|(_, value)| value.as_str()),
        Some("smtp; 550 5.1.1 Empf?nger unbekannt")
    );
}
