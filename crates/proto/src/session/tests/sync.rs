//! RFC 2920 synchronisation transcripts (`sync.rs`): pipelining within the rules passes,
//! input before the greeting or after DATA before its reply gets `554 5.5.0` and close.

use super::*;

fn strict() -> Owner {
    let mut config = SessionConfig::new("mx.test.example");
    config.max_message_size = 10_000;
    Owner::synchronised(config)
}

const ENVELOPE: &[u8] = b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\n";

#[test]
fn pipelined_group_ending_in_data_is_accepted() {
    let mut owner = strict();
    owner.greet();
    let transcript = owner.send(&[ENVELOPE, b"RCPT TO:<c@c.example>\r\nDATA\r\n"].concat());
    assert_eq!(
        codes(&transcript),
        ["250 2.1.0", "250 2.1.5", "250 2.1.5", "354"]
    );
    let transcript = owner.send(b"Subject: ok\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    assert_eq!(codes(&transcript), ["250 2.0.0", "221 2.0.0"]);
    assert_eq!(owner.stored.len(), 1);
    assert_eq!(owner.stored[0].0.recipients.len(), 2);
}

#[test]
fn body_sent_with_data_before_354_is_refused_and_the_session_closed() {
    let mut owner = strict();
    owner.greet();
    let script = [
        ENVELOPE,
        b"DATA\r\nSubject: early\r\n\r\nbody\r\n.\r\nNOOP\r\n",
    ]
    .concat();
    let transcript = owner.send(&script);
    assert_eq!(codes(&transcript), ["250 2.1.0", "250 2.1.5", "554 5.5.0"]);
    assert!(owner.closed);
    assert!(owner.stored.is_empty());
    assert!(owner.pending_envelope.is_none(), "storage was never opened");
}

#[test]
fn commands_pipelined_after_a_refused_data_are_not_executed() {
    let mut owner = strict();
    owner.greet();
    let script = b"MAIL FROM:<a@a.example>\r\nDATA\r\nMAIL FROM:<smuggled@evil.example>\r\n";
    let transcript = owner.send(script);
    assert_eq!(codes(&transcript), ["250 2.1.0", "554 5.5.0"]);
    assert!(owner.closed);
    assert!(owner.session.transaction().is_none());
}

#[test]
fn input_while_storage_opens_is_refused_before_354() {
    let mut owner = strict();
    owner.greet();
    owner.session.receive(&[ENVELOPE, b"DATA\r\n"].concat());
    loop {
        match owner.session.poll(&mut AcceptAll) {
            Action::StartMessage(_) => break,
            Action::NeedInput => panic!("DATA did not ask for storage"),
            _ => {}
        }
    }
    owner.session.receive(b"Subject: raced\r\n");
    owner.session.storage_ready(Ok(()));
    assert_eq!(owner.session.poll(&mut AcceptAll), Action::AbortMessage);
    assert_eq!(owner.session.poll(&mut AcceptAll), Action::Close);
    let written = String::from_utf8_lossy(owner.session.output()).into_owned();
    assert_eq!(codes(&written), ["250 2.1.0", "250 2.1.5", "554 5.5.0"]);
}

#[test]
fn early_talker_never_gets_the_greeting() {
    let mut owner = strict();
    // The greeting is still in the output: the owner has not written it out.
    owner.session.receive(b"EHLO eager.example\r\n");
    let transcript = owner.run();
    assert_eq!(codes(&transcript), ["554 5.5.0"]);
    assert!(transcript.contains("before the greeting"), "{transcript}");
    assert!(owner.closed);
}

#[test]
fn bdat_chunks_may_be_pipelined() {
    let mut owner = strict();
    owner.greet();
    let script = [ENVELOPE, b"BDAT 6\r\nHello BDAT 7 LAST\r\nWorld\r\n"].concat();
    let transcript = owner.send(&script);
    assert_eq!(
        codes(&transcript),
        ["250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0"]
    );
    assert_eq!(owner.stored[0].1, b"Hello World\r\n");
}

#[test]
fn authenticated_clients_are_not_held_to_the_synchronisation() {
    use base64::Engine as _;
    let mut config = SessionConfig::new("mx.test.example");
    config.implicit_tls = true;
    config.extensions.auth_mechanisms = vec!["PLAIN"];
    let mut owner = Owner::synchronised(config);
    owner.greet();
    let token = base64::engine::general_purpose::STANDARD.encode(b"\0alice\0secret");
    let auth = owner.send(format!("AUTH PLAIN {token}\r\n").as_bytes());
    assert_eq!(codes(&auth), ["235 2.7.0"]);
    let script = [ENVELOPE, b"DATA\r\nSubject: sure\r\n\r\nbody\r\n.\r\n"].concat();
    let transcript = owner.send(&script);
    assert_eq!(
        codes(&transcript),
        ["250 2.1.0", "250 2.1.5", "354", "250 2.0.0"]
    );
    assert_eq!(owner.stored.len(), 1);
}
