use chrono::TimeZone;

use super::*;

fn section(input: &[u8]) -> HeaderSection {
    parse(input, true).expect("complete at end of input")
}

fn defaults<'a>(full_name: Option<&'a str>) -> Defaults<'a> {
    Defaults {
        now: Local
            .with_ymd_and_hms(2026, 3, 4, 5, 6, 7)
            .single()
            .expect("valid time"),
        message_id: "<ID1@host.example>",
        from: "alice@host.example",
        full_name,
    }
}

fn rendered(input: &[u8], full_name: Option<&str>) -> String {
    let section = section(input);
    String::from_utf8(section.render(&defaults(full_name))).expect("text")
}

#[test]
fn header_section_ends_at_the_blank_line() {
    let input = b"Subject: a\r\n b\r\nTo: x@y\r\n\r\nBody: not a header\r\n";
    let found = section(input);
    assert_eq!(found.fields.len(), 2);
    assert_eq!(found.fields[0].value(), "a b");
    assert_eq!(&input[found.body_start..], b"Body: not a header\r\n");
}

#[test]
fn a_line_that_is_not_a_header_starts_the_body() {
    let input = b"Subject: a\r\nthis is text\r\n";
    let found = section(input);
    assert_eq!(found.fields.len(), 1);
    assert_eq!(&input[found.body_start..], b"this is text\r\n");
    let plain = section(b"just text\r\n");
    assert!(plain.fields.is_empty());
    assert_eq!(plain.body_start, 0);
    let indented = section(b" indented first\r\n");
    assert!(indented.fields.is_empty());
}

#[test]
fn more_input_is_needed_until_the_end_is_known() {
    assert_eq!(parse(b"Subject: a\r\n", false), None);
    assert_eq!(parse(b"Subject: a\r\nTo: x", false), None);
    assert!(parse(b"Subject: a\r\n\r\n", false).is_some());
    assert!(parse(b"Subject: a\r\ntext\r\n", false).is_some());
    let at_end = section(b"Subject: a\r\n");
    assert_eq!(at_end.body_start, 12);
}

#[test]
fn t_recipients_come_from_to_cc_and_bcc_with_folding_and_groups() {
    let input = b"To: Alice <a@x.example>,\r\n\t\"Doe, J\" <j@x.example>\r\n\
        cc: team: b@y.example (Bob), c@z.example;\r\n\
        BCC: hidden@x.example\r\n\
        Reply-To: not@x.example\r\n\r\n";
    assert_eq!(
        section(input).recipient_specs(),
        [
            "a@x.example",
            "j@x.example",
            "b@y.example",
            "c@z.example",
            "hidden@x.example"
        ]
    );
}

#[test]
fn resent_headers_win_when_present() {
    let input = b"To: old@x.example\r\nResent-To: new@x.example\r\nResent-Bcc: b@x\r\n\r\n";
    assert_eq!(section(input).recipient_specs(), ["new@x.example", "b@x"]);
}

#[test]
fn bcc_is_removed_and_other_fields_kept_as_written() {
    let input = b"To: a@x\r\nBcc: secret@x,\r\n  other@x\r\nresent-bcc: r@x\r\n\
        Subject:  spaced\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\
        Message-ID: <m@x>\r\nFrom: me@x\r\n\r\n";
    assert_eq!(
        rendered(input, None),
        "To: a@x\r\nSubject:  spaced\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\
         Message-ID: <m@x>\r\nFrom: me@x\r\n\r\n"
    );
}

#[test]
fn missing_date_message_id_and_from_are_added() {
    let date = defaults(None)
        .now
        .format("%a, %d %b %Y %H:%M:%S %z")
        .to_string();
    assert!(date.starts_with("Wed, 04 Mar 2026 05:06:07 "), "{date}");
    assert_eq!(
        rendered(b"Subject: hi\r\n\r\n", None),
        format!(
            "Subject: hi\r\nDate: {date}\r\nMessage-ID: <ID1@host.example>\r\n\
             From: alice@host.example\r\n\r\n"
        )
    );
    let only_from = rendered(b"date: x\r\nmessage-id: <y>\r\n\r\n", Some("Alice Smith"));
    assert_eq!(
        only_from,
        "date: x\r\nmessage-id: <y>\r\nFrom: Alice Smith <alice@host.example>\r\n\r\n"
    );
}

#[test]
fn full_names_are_quoted_or_encoded() {
    let table = [
        ("Alice Smith", "Alice Smith"),
        ("Smith, Alice", "\"Smith, Alice\""),
        ("Al \"Bo\" C", "\"Al \\\"Bo\\\" C\""),
        ("Jürgen", "=?UTF-8?B?SsO8cmdlbg==?="),
        ("Evil\r\nBcc: x@y", "\"EvilBcc: x@y\""),
    ];
    for (name, expected) in table {
        assert_eq!(display_name(name), expected, "{name:?}");
    }
}

#[test]
fn base64_pads_every_length() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foob"), "Zm9vYg==");
}

#[test]
fn message_id_is_read_back() {
    assert_eq!(
        section(b"Message-Id:  <a@b>\r\n\r\n").message_id(),
        Some("<a@b>".to_owned())
    );
    assert_eq!(section(b"Subject: x\r\n\r\n").message_id(), None);
}
