//! Each kind of report, parsed back: headers, parts and every field.

use super::*;

#[test]
fn a_failure_report_has_every_header_and_field() {
    let sender = sender();
    let request = request(&sender, vec![failed()]);
    let dsn = build_some(&request, ORIGINAL);
    assert_eq!(dsn.recipient.to_string(), "alice@example.com");
    assert!(!dsn.eight_bit);
    let message = parse(&dsn);

    let from = message.from().and_then(|a| a.first()).expect("From");
    assert_eq!(
        (from.name(), from.address()),
        (
            Some("Mail Delivery Subsystem"),
            Some("MAILER-DAEMON@mx.example.net")
        )
    );
    let to = message
        .to()
        .and_then(|a| a.first())
        .and_then(|a| a.address());
    assert_eq!(to, Some("alice@example.com"));
    assert_eq!(
        message.subject(),
        Some("Undelivered Mail Returned to Sender")
    );
    let date = message.date().expect("Date").to_timestamp();
    assert_eq!(date, 1_700_000_000 + 4 * 3600 + 5);
    assert_eq!(
        message.message_id(),
        Some("1700014405.000000000.qAKNj3AB012345.failed@mx.example.net")
    );
    assert_eq!(
        message.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-replied")
    );
    let content_type = message.content_type().expect("Content-Type");
    assert_eq!(
        (content_type.ctype(), content_type.subtype()),
        ("multipart", Some("report"))
    );
    assert_eq!(
        content_type.attribute("report-type"),
        Some("delivery-status")
    );

    assert_eq!(
        part_types(&message),
        ["text/plain", "message/delivery-status", "message/rfc822"]
    );
    assert_eq!(
        status_groups(&message),
        vec![
            fields(&[
                ("Reporting-MTA", "dns; mx.example.net"),
                ("X-Posthorn-Queue-ID", QUEUE_ID),
                ("X-Posthorn-Sender", "rfc822; alice@example.com"),
                ("Original-Envelope-Id", "env+2042+2Bx"),
                ("Arrival-Date", "Tue, 14 Nov 2023 22:13:20 +0000"),
            ]),
            fields(&[
                ("Original-Recipient", "rfc822; bob+orig@example.org"),
                ("Final-Recipient", "rfc822; bob@example.org"),
                ("Action", "failed"),
                ("Status", "5.1.1"),
                ("Remote-MTA", "dns; mx.example.org"),
                (
                    "Diagnostic-Code",
                    "smtp; 550 5.1.1 <bob@example.org>: no such user"
                ),
                ("Last-Attempt-Date", "Tue, 14 Nov 2023 22:14:20 +0000"),
            ]),
        ]
    );

    let text = explanation(&message);
    assert!(
        text.starts_with("This is the mail system at host mx.example.net.\r\n"),
        "{text}"
    );
    assert!(
        text.contains("<bob@example.org>: delivery failed; host mx.example.org said: 550 5.1.1"),
        "{text}"
    );
    assert!(text.contains(QUEUE_ID), "{text}");

    let (_, returned) = returned_part(&message);
    let nested = returned.message().expect("a nested message");
    assert_eq!(nested.subject(), Some("Lunch"));
    assert_eq!(nested.message_id(), Some("m1@example.com"));
    assert_eq!(nested.raw_message(), ORIGINAL, "returned byte for byte");
}

#[test]
fn ret_hdrs_returns_the_header_and_ret_full_the_message() {
    let sender = sender();
    let mut returned = Vec::new();
    for ret in [Some(Ret::Headers), Some(Ret::Full), None] {
        let mut request = request(&sender, vec![failed()]);
        request.ret = ret;
        let dsn = build_some(&request, ORIGINAL);
        let message = parse(&dsn);
        let (content_type, part) = returned_part(&message);
        let body = match part.message() {
            Some(nested) => nested.raw_message().to_vec(),
            None => part.contents().to_vec(),
        };
        returned.push((ret, content_type, body));
    }
    assert_eq!(
        returned,
        vec![
            (
                Some(Ret::Headers),
                "text/rfc822-headers".to_owned(),
                ORIGINAL_HEADER.to_vec()
            ),
            (
                Some(Ret::Full),
                "message/rfc822".to_owned(),
                ORIGINAL.to_vec()
            ),
            (None, "message/rfc822".to_owned(), ORIGINAL.to_vec()),
        ]
    );
}

#[test]
fn a_delay_report_says_until_when_and_returns_only_the_header() {
    let sender = sender();
    let mut request = request(&sender, vec![delayed()]);
    request.ret = Some(Ret::Full); // RET applies to failure reports only
    let dsn = build_some(&request, ORIGINAL);
    let message = parse(&dsn);
    assert_eq!(
        message.subject(),
        Some("Delayed Mail (still being retried)")
    );
    assert_eq!(
        status_groups(&message)[1],
        fields(&[
            ("Final-Recipient", "rfc822; carol@example.org"),
            ("Action", "delayed"),
            ("Status", "4.4.1"),
            (
                "Diagnostic-Code",
                "X-Posthorn; connect to mx.example.org: connection refused"
            ),
            ("Last-Attempt-Date", "Wed, 15 Nov 2023 02:13:20 +0000"),
            ("Will-Retry-Until", "Sun, 19 Nov 2023 22:13:20 +0000"),
        ])
    );
    let (content_type, part) = returned_part(&message);
    assert_eq!(content_type, "text/rfc822-headers");
    assert_eq!(part.contents(), ORIGINAL_HEADER);
    let text = explanation(&message);
    assert!(text.contains("THIS IS A WARNING ONLY"), "{text}");
    assert!(
        text.contains("until Sun, 19 Nov 2023 22:13:20 +0000"),
        "{text}"
    );
    assert!(message
        .message_id()
        .is_some_and(|id| id.contains(".delayed@")));
}

#[test]
fn a_success_report_lists_delivered_and_relayed_recipients() {
    let sender = sender();
    let request = request(
        &sender,
        vec![
            delivered(DsnAction::Delivered),
            delivered(DsnAction::Relayed),
        ],
    );
    let dsn = build_some(&request, ORIGINAL);
    let message = parse(&dsn);
    assert_eq!(message.subject(), Some("Successful Mail Delivery Report"));
    let actions: Vec<String> = status_groups(&message)
        .into_iter()
        .flatten()
        .filter(|(name, _)| name == "Action")
        .map(|(_, value)| value)
        .collect();
    assert_eq!(actions, ["delivered", "relayed"]);
    assert_eq!(returned_part(&message).0, "text/rfc822-headers");
}

#[test]
fn a_mixed_report_is_a_failure_report_and_keeps_each_action() {
    let sender = sender();
    let request = request(&sender, vec![delayed(), failed()]);
    let message_bytes = build_some(&request, ORIGINAL);
    let message = parse(&message_bytes);
    assert_eq!(
        message.subject(),
        Some("Undelivered Mail Returned to Sender")
    );
    let actions: Vec<String> = status_groups(&message)
        .into_iter()
        .flatten()
        .filter(|(name, _)| name == "Action")
        .map(|(_, value)| value)
        .collect();
    assert_eq!(actions, ["delayed", "failed"]);
    assert_eq!(returned_part(&message).0, "message/rfc822");
}
