use std::io::Read;

use super::*;
use crate::cmd::sendmail::args;

struct Fixture {
    _dir: tempfile::TempDir,
    config: Config,
    spool: Spool,
}

fn fixture(extra: &str) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!(
        "hostname = \"host.example\"\nspool = {:?}\n{extra}",
        dir.path().display().to_string()
    );
    let config = Config::from_toml(&text, None).expect("config");
    let spool = Spool::open(&config.spool).expect("spool");
    Fixture {
        _dir: dir,
        config,
        spool,
    }
}

fn options(line: &str) -> Options {
    args::parse(line.split_whitespace().map(str::to_owned)).expect("valid options")
}

/// Runs a submission the way `sendmail LINE < input` does.
fn submit(fixture: &Fixture, line: &str, input: &[u8]) -> Result<Queued, SubmitError> {
    let options = options(line);
    let recipients = argument_recipients(&options, "host.example")?;
    let mut input = input;
    queue_message(
        &fixture.spool,
        &fixture.config,
        &options,
        "alice",
        recipients,
        &mut input,
    )
}

fn stored(fixture: &Fixture, queued: &Queued) -> String {
    let mut body = String::new();
    fixture
        .spool
        .body(&queued.message.id)
        .expect("body")
        .read_to_string(&mut body)
        .expect("read");
    body
}

fn recipients_of(queued: &Queued) -> Vec<String> {
    let recipients = &queued.message.envelope.recipients;
    recipients.iter().map(|r| r.address.to_string()).collect()
}

#[test]
fn a_message_is_queued_with_trace_and_missing_headers() {
    let fixture = fixture("");
    let queued = submit(
        &fixture,
        "-f sender@x.example -F Alice bob",
        b"Subject: hi\nbody\n",
    )
    .expect("queued");
    let envelope = &queued.message.envelope;
    assert_eq!(envelope.sender.to_string(), "sender@x.example");
    assert_eq!(recipients_of(&queued), ["bob@host.example"]);
    assert_eq!(envelope.client.protocol, "local");
    assert_eq!(envelope.client.address, None);
    let id = queued.message.id.to_string();
    assert_eq!(queued.message_id, format!("<{id}@host.example>"));
    let body = stored(&fixture, &queued);
    let expected_received =
        format!("Received: from alice\r\n\tby host.example (Posthorn) id {id};\r\n\t");
    assert!(body.starts_with(&expected_received), "{body}");
    let headers_start = body.find("Subject:").expect("subject kept");
    let rest = &body[headers_start..];
    assert!(rest.starts_with("Subject: hi\r\nDate: "), "{rest}");
    assert!(
        rest.ends_with(&format!(
            "\r\nMessage-ID: <{id}@host.example>\r\nFrom: Alice <sender@x.example>\r\n\r\nbody\r\n"
        )),
        "{rest}"
    );
    assert_eq!(queued.message.size, body.len() as u64);
}

#[test]
fn dash_t_adds_header_recipients_to_arguments_and_drops_bcc() {
    let fixture = fixture("");
    let input = b"From: me@x\r\nTo: Bob <bob@y.example>, carol@z.example\r\n\
        Cc: team: dave@y.example;\r\nBcc: eve@z.example,\r\n bob@y.example\r\n\
        Message-ID: <given@x>\r\n\r\nhello\r\n";
    let queued =
        submit(&fixture, "-t -f me@x extra@w.example bob@Y.EXAMPLE", input).expect("queued");
    assert_eq!(
        recipients_of(&queued),
        [
            "extra@w.example",
            "bob@Y.EXAMPLE",
            "carol@z.example",
            "dave@y.example",
            "eve@z.example"
        ]
    );
    assert_eq!(queued.message_id, "<given@x>");
    let body = stored(&fixture, &queued);
    // A header, not a substring: the queue ID in Received: may spell "Bcc" by chance.
    let bcc_header = body
        .lines()
        .any(|line| line.to_ascii_lowercase().starts_with("bcc:"));
    assert!(!bcc_header, "{body}");
    assert!(!body.contains("eve@"), "{body}");
    assert_eq!(body.matches("Message-ID:").count(), 1, "{body}");
    assert_eq!(body.matches("From:").count(), 1, "{body}");
}

#[test]
fn no_recipients_queues_nothing() {
    let fixture = fixture("");
    let result = submit(&fixture, "-t", b"Subject: nobody\n\nbody\n");
    assert!(
        matches!(result, Err(SubmitError::NoRecipients)),
        "{result:?}"
    );
    assert!(fixture.spool.list().expect("list").is_empty());
}

#[test]
fn a_bad_header_address_is_a_data_error() {
    let fixture = fixture("");
    let result = submit(&fixture, "-t", b"To: a b@x\n\nbody\n");
    assert!(
        matches!(result, Err(SubmitError::BadHeaderRecipient(_))),
        "{result:?}"
    );
    let result = submit(&fixture, "x@", b"body\n");
    assert!(
        matches!(result, Err(SubmitError::BadRecipient(_))),
        "{result:?}"
    );
}

#[test]
fn a_lone_dot_ends_the_message_unless_dash_i() {
    let fixture = fixture("");
    let input = b"Subject: dots\n\nbefore\n.\nafter\n";
    let cut = submit(&fixture, "a@x.example", input).expect("queued");
    assert!(stored(&fixture, &cut).ends_with("\r\n\r\nbefore\r\n"));
    let kept = submit(&fixture, "-oi a@x.example", input).expect("queued");
    assert!(stored(&fixture, &kept).ends_with("\r\n\r\nbefore\r\n.\r\nafter\r\n"));
    let in_headers = submit(&fixture, "a@x.example", b"Subject: s\n.\nlost\n").expect("queued");
    assert!(!stored(&fixture, &in_headers).contains("lost"));
}

#[test]
fn a_body_without_headers_gets_a_blank_line_before_it() {
    let fixture = fixture("");
    let queued = submit(&fixture, "a@x.example", b"just a line\r\nand another").expect("queued");
    let body = stored(&fixture, &queued);
    assert!(
        body.ends_with("From: alice@host.example\r\n\r\njust a line\r\nand another\r\n"),
        "{body}"
    );
}

#[test]
fn a_message_over_the_size_limit_is_not_queued() {
    let fixture = fixture("[limits]\nmessage_size = 2000\n");
    let large = vec![b'x'; 4096];
    let result = submit(&fixture, "a@x.example", &large);
    assert!(
        matches!(result, Err(SubmitError::TooLarge(2000))),
        "{result:?}"
    );
    assert!(fixture.spool.list().expect("list").is_empty());
    let incoming = fixture.config.spool.join("incoming");
    assert_eq!(std::fs::read_dir(incoming).expect("incoming").count(), 0);
}

#[test]
fn senders_resolve_like_sendmail() {
    let table = [
        ("", Some("alice@host.example")),
        ("-f <>", Some("")),
        ("-f bob", Some("bob@host.example")),
        ("-f <bob@x.example>", Some("bob@x.example")),
        ("-fBob<bob@x.example>", Some("bob@x.example")),
        ("-f a@x,b@y", None),
        ("-f a@", None),
    ];
    for (line, expected) in table {
        let result = sender(&options(line), "alice", "host.example").map(|s| s.to_string());
        assert_eq!(result.ok().as_deref(), expected, "{line}");
    }
}
