//! DSNs parsed back with `mail-parser`: the structure of the report and every
//! field, and when no DSN may be sent at all.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders};
use posthorn_proto::{
    Domain, EnhancedStatus, Mailbox, Notify, OriginalRecipient, Ret, ReversePath,
};

use super::*;

mod content;
mod reports;

const HOST: &str = "mx.example.net";
const QUEUE_ID: &str = "qAKNj3AB012345";
const ORIGINAL: &[u8] = b"From: Alice <alice@example.com>\r\n\
To: bob@example.org\r\n\
Subject: Lunch\r\n\
Message-ID: <m1@example.com>\r\n\
\r\n\
See you at noon.\r\n\
-- \r\n\
Alice\r\n";
const ORIGINAL_HEADER: &[u8] = b"From: Alice <alice@example.com>\r\n\
To: bob@example.org\r\n\
Subject: Lunch\r\n\
Message-ID: <m1@example.com>\r\n";

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
}

fn sender() -> ReversePath {
    ReversePath::Mailbox(Mailbox {
        local_part: "alice".into(),
        domain: Domain::Name("example.com".into()),
    })
}

fn failed() -> DsnRecipient {
    DsnRecipient {
        address: "bob@example.org".into(),
        original: Some(OriginalRecipient {
            addr_type: "rfc822".into(),
            address: "bob+orig@example.org".into(),
        }),
        action: DsnAction::Failed,
        status: EnhancedStatus::new(5, 1, 1),
        remote_mta: Some("mx.example.org".into()),
        diagnostic: Some("550 5.1.1 <bob@example.org>: no such user".into()),
        last_attempt: Some(at(60)),
        will_retry_until: None,
    }
}

fn delayed() -> DsnRecipient {
    DsnRecipient {
        address: "carol@example.org".into(),
        original: None,
        action: DsnAction::Delayed,
        status: EnhancedStatus::new(4, 4, 1),
        remote_mta: None,
        diagnostic: Some("connect to mx.example.org: connection refused".into()),
        last_attempt: Some(at(4 * 3600)),
        will_retry_until: Some(at(5 * 86400)),
    }
}

fn delivered(action: DsnAction) -> DsnRecipient {
    DsnRecipient {
        address: "dave@example.org".into(),
        original: None,
        action,
        status: EnhancedStatus::new(2, 0, 0),
        remote_mta: Some("mx.example.org".into()),
        diagnostic: Some("250 2.0.0 Ok: queued as 4Xyz".into()),
        last_attempt: Some(at(30)),
        will_retry_until: None,
    }
}

fn request<'a>(sender: &'a ReversePath, recipients: Vec<DsnRecipient>) -> DsnRequest<'a> {
    DsnRequest {
        reporting_mta: HOST,
        original_sender: sender,
        envid: Some("env 42+x"),
        ret: None,
        arrival: at(0),
        original_queue_id: QUEUE_ID,
        recipients,
        now: at(4 * 3600 + 5),
    }
}

/// Builds with every recipient reported.
fn build(request: &DsnRequest<'_>, original: &[u8]) -> Option<Dsn> {
    build_dsn(request, |_| true, &mut &original[..]).expect("slices do not fail")
}

fn build_some(request: &DsnRequest<'_>, original: &[u8]) -> Dsn {
    let dsn = build(request, original).expect("a DSN is due");
    assert_wire_safe(&dsn.message);
    dsn
}

/// CRLF only, no line over 998 octets.
fn assert_wire_safe(message: &[u8]) {
    for (index, line) in message.split(|&b| b == b'\n').enumerate() {
        let is_last = index == message.split(|&b| b == b'\n').count() - 1;
        if is_last {
            assert!(line.is_empty(), "message does not end with CRLF");
            continue;
        }
        let text = line
            .strip_suffix(b"\r")
            .unwrap_or_else(|| panic!("bare LF in line {index}"));
        assert!(!text.contains(&b'\r'), "bare CR in line {index}");
        assert!(text.len() <= 998, "line {index} is {} octets", text.len());
    }
}

fn parse(dsn: &Dsn) -> Message<'_> {
    MessageParser::default()
        .parse(&dsn.message)
        .expect("the DSN parses")
}

/// The report's parts below the root: (type/subtype, part).
fn parts<'m>(message: &'m Message<'m>) -> Vec<(String, &'m MessagePart<'m>)> {
    let root = message.root_part();
    let ids = root.sub_parts().expect("the root is multipart");
    ids.iter()
        .map(|&id| {
            let part = &message.parts[id as usize];
            let content_type = part.content_type().expect("every part has a type");
            let full = format!(
                "{}/{}",
                content_type.ctype(),
                content_type.subtype().unwrap_or("")
            );
            (full, part)
        })
        .collect()
}

fn part_types(message: &Message<'_>) -> Vec<String> {
    parts(message).into_iter().map(|(t, _)| t).collect()
}

/// The delivery-status part as groups of (field, unfolded value).
fn status_groups(message: &Message<'_>) -> Vec<Vec<(String, String)>> {
    let (_, part) = parts(message)
        .into_iter()
        .find(|(t, _)| t == "message/delivery-status")
        .expect("a delivery-status part");
    let text = std::str::from_utf8(part.contents()).expect("ASCII fields");
    let unfolded = text.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .split("\r\n\r\n")
        .map(|group| {
            group
                .split("\r\n")
                .filter(|line| !line.is_empty())
                .map(|line| {
                    let (name, value) = line.split_once(':').expect("name: value");
                    (name.to_owned(), value.trim().to_owned())
                })
                .collect::<Vec<_>>()
        })
        .filter(|group| !group.is_empty())
        .collect()
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn explanation(message: &Message<'_>) -> String {
    let (_, part) = parts(message)
        .into_iter()
        .find(|(t, _)| t == "text/plain")
        .expect("a text part");
    part.text_contents().expect("text").to_owned()
}

fn returned_part<'m>(message: &'m Message<'m>) -> (String, &'m MessagePart<'m>) {
    let all = parts(message);
    assert_eq!(all.len(), 3, "{:?}", part_types(message));
    all.into_iter().nth(2).expect("third part")
}
