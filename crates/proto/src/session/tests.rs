//! Transcript tests: a scripted owner drives the session with client input and checks
//! every reply, the stored messages and the requests the session made.

use super::*;
use crate::{EnhancedStatus, ForwardPath, MailParams, RcptParams, ReversePath};

/// A policy that rejects one recipient domain and discards another.
struct TestPolicy;

impl SessionPolicy for TestPolicy {
    fn check_sender(&mut self, from: &ReversePath, _: &MailParams) -> Verdict {
        match from.to_string().as_str() {
            "spammer@bad.example" => Verdict::Reject(Reply::new(
                550,
                EnhancedStatus::new(5, 7, 1),
                "Access denied",
            )),
            "blackhole@sender.example" => Verdict::Discard,
            _ => Verdict::Accept,
        }
    }
    fn check_recipient(&mut self, to: &ForwardPath, _: &RcptParams) -> Verdict {
        let address = to.to_string();
        if address.ends_with("@elsewhere.example") {
            Verdict::Reject(Reply::new(
                550,
                EnhancedStatus::new(5, 7, 1),
                format!("<{address}>... Relaying denied"),
            ))
        } else if address.ends_with("@discard.example") {
            Verdict::Discard
        } else {
            Verdict::Accept
        }
    }
}

/// The owner side of the conversation, answering requests the way the server does.
struct Owner {
    session: ServerSession,
    open: Option<Vec<u8>>,
    stored: Vec<(Transaction, Vec<u8>)>,
    pending_envelope: Option<Transaction>,
    aborted: usize,
    tls_handshakes: usize,
    /// Every `Action::Authenticate`, answered by [`test_auth_verdict`].
    authentications: Vec<Credentials>,
    closed: bool,
    refuse_storage: Option<Reply>,
}

/// The owner's password check in these tests, decided by the password alone.
fn test_auth_verdict(credentials: &Credentials) -> AuthVerdict {
    match credentials.password.as_str() {
        "secret" => AuthVerdict::Accepted {
            identity: credentials.username.clone(),
        },
        "verifier-down" => AuthVerdict::Temporary,
        "one-too-many" => AuthVerdict::Throttled,
        _ => AuthVerdict::Rejected,
    }
}

impl Owner {
    /// Most transcripts here feed a whole conversation, body included, in one piece, as
    /// a client that ignores RFC 2920 would: they run without the synchronisation
    /// checks, which `tests/sync.rs` covers with [`Owner::synchronised`].
    fn new(mut config: SessionConfig) -> Self {
        config.pipelining_sync = false;
        Owner::synchronised(config)
    }

    /// An owner whose session enforces RFC 2920 synchronisation as configured.
    fn synchronised(config: SessionConfig) -> Self {
        Owner {
            session: ServerSession::new(config),
            open: None,
            stored: Vec::new(),
            pending_envelope: None,
            aborted: 0,
            tls_handshakes: 0,
            authentications: Vec::new(),
            closed: false,
            refuse_storage: None,
        }
    }

    fn standard() -> Self {
        let mut config = SessionConfig::new("mx.test.example");
        config.extensions.starttls = true;
        config.max_message_size = 1000;
        config.max_recipients = 3;
        Owner::new(config)
    }

    /// Feeds `input` (in one piece) and returns everything the session wrote.
    fn send(&mut self, input: &[u8]) -> String {
        self.session.receive(input);
        self.run()
    }

    fn run(&mut self) -> String {
        let mut written = String::from_utf8_lossy(self.session.output()).into_owned();
        self.session.clear_output();
        loop {
            let action = self.session.poll(&mut TestPolicy);
            match action {
                Action::NeedInput => break,
                Action::Close => {
                    self.closed = true;
                    break;
                }
                Action::StartTls => {
                    written.push_str(&String::from_utf8_lossy(self.session.output()));
                    self.session.clear_output();
                    self.tls_handshakes += 1;
                    self.session.tls_established();
                }
                Action::Authenticate(credentials) => {
                    let verdict = test_auth_verdict(credentials);
                    self.authentications.push(credentials.clone());
                    self.session.auth_verdict(verdict);
                }
                Action::StartMessage(transaction) => {
                    self.pending_envelope = Some(transaction.clone());
                    match self.refuse_storage.clone() {
                        Some(reply) => self.session.storage_ready(Err(reply)),
                        None => {
                            self.open = Some(Vec::new());
                            self.session.storage_ready(Ok(()));
                        }
                    }
                }
                Action::Body(bytes) => {
                    let bytes = bytes.to_vec();
                    self.open
                        .as_mut()
                        .expect("body without storage")
                        .extend(bytes);
                }
                Action::EndMessage => {
                    let body = self.open.take().expect("commit without storage");
                    let envelope = self.pending_envelope.take().expect("envelope");
                    self.stored.push((envelope, body));
                    let id = format!("QID{}", self.stored.len());
                    self.session.message_stored(Ok(id));
                }
                Action::AbortMessage => {
                    self.open = None;
                    self.aborted += 1;
                }
            }
            written.push_str(&String::from_utf8_lossy(self.session.output()));
            self.session.clear_output();
        }
        written.push_str(&String::from_utf8_lossy(self.session.output()));
        self.session.clear_output();
        written
    }

    fn greet(&mut self) {
        let banner = self.run();
        assert!(banner.starts_with("220 mx.test.example "), "{banner}");
        let ehlo = self.send(b"EHLO client.example\r\n");
        assert!(ehlo.starts_with("250-mx.test.example Hello client.example"));
    }
}

/// Reply codes (with enhanced status where present) of a transcript, in order.
fn codes(transcript: &str) -> Vec<String> {
    transcript
        .split("\r\n")
        .filter(|line| line.len() >= 4 && line.as_bytes()[3] == b' ')
        .map(|line| {
            let mut words = line.split(' ');
            let code = words.next().unwrap_or_default();
            match words.next() {
                Some(status) if status.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
                    format!("{code} {status}")
                }
                _ => code.to_owned(),
            }
        })
        .collect()
}

#[test]
fn simple_transaction_is_stored_with_its_envelope() {
    let mut owner = Owner::standard();
    owner.greet();
    let transcript = owner.send(
        b"MAIL FROM:<alice@a.example>\r\nRCPT TO:<bob@b.example>\r\nRCPT TO:<carol@c.example>\r\nDATA\r\n",
    );
    assert_eq!(
        codes(&transcript),
        ["250 2.1.0", "250 2.1.5", "250 2.1.5", "354"]
    );
    let transcript = owner.send(b"Subject: hi\r\n\r\nHello\r\n..dot\r\n.\r\nQUIT\r\n");
    assert_eq!(codes(&transcript), ["250 2.0.0", "221 2.0.0"]);
    assert!(transcript.contains("QID1 Message accepted for delivery"));
    assert!(owner.closed);
    let (envelope, body) = &owner.stored[0];
    assert_eq!(envelope.sender.to_string(), "alice@a.example");
    assert_eq!(envelope.recipients.len(), 2);
    assert_eq!(body, b"Subject: hi\r\n\r\nHello\r\n.dot\r\n");
}

#[test]
fn pipelined_commands_are_answered_in_order_in_one_output() {
    let mut owner = Owner::standard();
    owner.greet();
    let transcript = owner.send(
        b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\nRCPT TO:<x@elsewhere.example>\r\nDATA\r\nbody\r\n.\r\nNOOP\r\n",
    );
    assert_eq!(
        codes(&transcript),
        [
            "250 2.1.0",
            "250 2.1.5",
            "550 5.7.1",
            "354",
            "250 2.0.0",
            "250 2.0.0"
        ]
    );
    assert_eq!(owner.stored.len(), 1);
    assert_eq!(owner.stored[0].0.recipients.len(), 1);
}

#[test]
fn commands_out_of_sequence_get_503() {
    let mut owner = Owner::standard();
    owner.run();
    assert_eq!(
        codes(&owner.send(b"MAIL FROM:<a@a.example>\r\n")),
        ["503 5.5.1"]
    );
    owner.send(b"EHLO c\r\n");
    assert_eq!(
        codes(&owner.send(b"RCPT TO:<b@b.example>\r\n")),
        ["503 5.5.1"]
    );
    assert_eq!(codes(&owner.send(b"DATA\r\n")), ["503 5.5.1"]);
    owner.send(b"MAIL FROM:<a@a.example>\r\n");
    assert_eq!(
        codes(&owner.send(b"MAIL FROM:<a@a.example>\r\n")),
        ["503 5.5.1"]
    );
    assert_eq!(codes(&owner.send(b"DATA\r\n")), ["554 5.5.1"]);
}

#[test]
fn recipients_over_the_limit_get_452_and_earlier_ones_are_kept() {
    let mut owner = Owner::standard();
    owner.greet();
    owner.send(b"MAIL FROM:<a@a.example>\r\n");
    for n in 0..3 {
        let line = format!("RCPT TO:<r{n}@b.example>\r\n");
        assert_eq!(codes(&owner.send(line.as_bytes())), ["250 2.1.5"]);
    }
    assert_eq!(
        codes(&owner.send(b"RCPT TO:<r4@b.example>\r\n")),
        ["452 4.5.3"]
    );
    owner.send(b"DATA\r\nx\r\n.\r\n");
    assert_eq!(owner.stored[0].0.recipients.len(), 3);
}

#[test]
fn oversized_message_is_refused_and_storage_aborted() {
    let mut owner = Owner::standard();
    owner.greet();
    assert_eq!(
        codes(&owner.send(b"MAIL FROM:<a@a.example> SIZE=1001\r\n")),
        ["552 5.3.4"]
    );
    owner.send(b"MAIL FROM:<a@a.example> SIZE=999\r\nRCPT TO:<b@b.example>\r\nDATA\r\n");
    let mut body = Vec::new();
    for _ in 0..40 {
        body.extend_from_slice(b"0123456789012345678901234567890123456789\r\n");
    }
    body.extend_from_slice(b".\r\n");
    assert_eq!(codes(&owner.send(&body)), ["552 5.3.4"]);
    assert!(owner.stored.is_empty());
    assert_eq!(owner.aborted, 1);
    // The session goes on: a new transaction works.
    owner.send(b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\nsmall\r\n.\r\n");
    assert_eq!(owner.stored.len(), 1);
}

#[test]
fn storage_failure_is_a_temporary_refusal_never_250() {
    // Commit failure.
    let mut owner = Owner::standard();
    owner.greet();
    owner
        .session
        .receive(b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\nhello\r\n.\r\n");
    loop {
        match owner.session.poll(&mut TestPolicy) {
            Action::StartMessage(_) => owner.session.storage_ready(Ok(())),
            Action::Body(_) => {}
            Action::EndMessage => owner.session.message_stored(Err(Reply::new(
                452,
                EnhancedStatus::new(4, 3, 1),
                "Insufficient system storage",
            ))),
            Action::NeedInput => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    let transcript = String::from_utf8_lossy(owner.session.output()).into_owned();
    assert_eq!(
        codes(&transcript),
        ["250 2.1.0", "250 2.1.5", "354", "452 4.3.1"]
    );
    // Opening storage failed: DATA itself is refused.
    let mut owner = Owner::standard();
    owner.refuse_storage = Some(Reply::new(451, EnhancedStatus::new(4, 3, 0), "I/O error"));
    owner.greet();
    let transcript = owner.send(b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\n");
    assert_eq!(codes(&transcript), ["250 2.1.0", "250 2.1.5", "451 4.3.0"]);
}

#[test]
fn starttls_discards_pipelined_plaintext() {
    let mut owner = Owner::standard();
    owner.greet();
    let transcript = owner.send(b"STARTTLS\r\nMAIL FROM:<evil@evil.example>\r\n");
    assert_eq!(codes(&transcript), ["220 2.0.0"]);
    assert_eq!(owner.tls_handshakes, 1);
    assert!(owner.session.is_tls());
    // The injected MAIL was not executed: RCPT needs a MAIL first, and EHLO is required again.
    assert_eq!(
        codes(&owner.send(b"MAIL FROM:<a@a.example>\r\n")),
        ["503 5.5.1"]
    );
    let ehlo = owner.send(b"EHLO client.example\r\n");
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    assert_eq!(
        codes(&owner.send(b"RCPT TO:<b@b.example>\r\n")),
        ["503 5.5.1"]
    );
    assert_eq!(owner.session.protocol(), "ESMTPS");
}

#[test]
fn starttls_not_offered_is_refused() {
    let mut owner = Owner::new(SessionConfig::new("mx.test.example"));
    owner.greet();
    assert_eq!(codes(&owner.send(b"STARTTLS\r\n")), ["502 5.5.1"]);
}

#[test]
fn ehlo_lists_the_extensions() {
    let mut owner = Owner::standard();
    owner.run();
    let ehlo = owner.send(b"EHLO client.example\r\n");
    for keyword in [
        "PIPELINING",
        "SIZE 1000",
        "8BITMIME",
        "ENHANCEDSTATUSCODES",
        "SMTPUTF8",
        "DSN",
        "CHUNKING",
        "STARTTLS",
    ] {
        assert!(
            ehlo.contains(&format!("250-{keyword}\r\n")),
            "{keyword} in {ehlo}"
        );
    }
    assert!(ehlo.ends_with("250 HELP\r\n"));
    assert!(!ehlo.contains("AUTH"), "AUTH is never offered before TLS");
}

#[test]
fn helo_session_refuses_esmtp_parameters() {
    let mut owner = Owner::standard();
    owner.run();
    assert_eq!(codes(&owner.send(b"HELO client.example\r\n")), ["250"]);
    assert_eq!(
        codes(&owner.send(b"MAIL FROM:<a@a.example> SIZE=10\r\n")),
        ["555 5.5.4"]
    );
    assert_eq!(owner.session.protocol(), "SMTP");
}

#[test]
fn smuggled_end_of_data_lookalikes_never_end_data() {
    for lookalike in [
        &b"\n.\n"[..],
        b"\n.\r\n",
        b"\r.\n",
        b"\r.\r",
        b"\r.\r\n",
        b"\r\n.\n",
        b"\r\n.\r",
        b"\r\r\n.\r\r\n",
        b"\r\n\0.\r\n",
    ] {
        let mut owner = Owner::standard();
        owner.greet();
        owner.send(b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\n");
        let mut data = b"first".to_vec();
        data.extend_from_slice(lookalike);
        data.extend_from_slice(
            b"MAIL FROM:<smuggled@evil.example>\r\nRCPT TO:<v@b.example>\r\nDATA\r\nevil\r\n.\r\n",
        );
        let transcript = owner.send(&data);
        assert_eq!(codes(&transcript), ["250 2.0.0"], "{lookalike:?}");
        assert_eq!(owner.stored.len(), 1, "{lookalike:?}");
        let body = &owner.stored[0].1;
        assert!(
            body.windows(8).any(|window| window == b"smuggled"),
            "smuggled text stays inside the body for {lookalike:?}"
        );
        // Only CRLF line endings are stored.
        for (index, byte) in body.iter().enumerate() {
            if *byte == b'\n' {
                assert!(index > 0 && body[index - 1] == b'\r', "bare LF in {body:?}");
            }
            if *byte == b'\r' {
                assert_eq!(body.get(index + 1), Some(&b'\n'), "bare CR in {body:?}");
            }
        }
    }
}

#[test]
fn data_split_at_every_byte_gives_the_same_result() {
    let script: &[u8] = b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\nline one\r\n..stuffed\r\n\r\n.\r\nQUIT\r\n";
    let mut whole = Owner::standard();
    whole.greet();
    let expected = whole.send(script);
    for split in 1..script.len() {
        let mut owner = Owner::standard();
        owner.greet();
        let mut transcript = owner.send(&script[..split]);
        transcript.push_str(&owner.send(&script[split..]));
        assert_eq!(transcript, expected, "split at {split}");
        assert_eq!(owner.stored, whole.stored, "split at {split}");
    }
}

#[test]
fn bdat_chunks_are_stored_and_counted() {
    let mut owner = Owner::standard();
    owner.greet();
    owner.send(b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\n");
    let transcript = owner.send(b"BDAT 7\r\nHello\r\nBDAT 9 LAST\r\nWorld\r\n\r\n");
    assert_eq!(codes(&transcript), ["250 2.0.0", "250 2.0.0"]);
    assert!(transcript.contains("7 octets received"));
    assert_eq!(owner.stored[0].1, b"Hello\r\nWorld\r\n\r\n");
}

#[test]
fn bdat_without_transaction_still_consumes_its_octets() {
    let mut owner = Owner::standard();
    owner.greet();
    // The chunk content looks like commands; it must not be executed.
    let transcript =
        owner.send(b"BDAT 37 LAST\r\nMAIL FROM:<evil@evil.example>\r\nNOOP\r\nNOOP\r\n");
    assert_eq!(codes(&transcript), ["503 5.5.1", "250 2.0.0"]);
    assert!(owner.session.transaction().is_none());
}

#[test]
fn bdat_normalises_bare_line_endings_across_chunks() {
    let mut owner = Owner::standard();
    owner.greet();
    owner.send(b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\n");
    owner.send(b"BDAT 3\r\na\r\rBDAT 3 LAST\r\n\nb\n");
    assert_eq!(owner.stored[0].1, b"a\r\n\r\nb\r\n");
}

#[test]
fn discard_accepts_without_storing() {
    let mut owner = Owner::standard();
    owner.greet();
    let transcript = owner.send(
        b"MAIL FROM:<blackhole@sender.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\nx\r\n.\r\n",
    );
    assert_eq!(
        codes(&transcript),
        ["250 2.1.0", "250 2.1.5", "354", "250 2.0.0"]
    );
    assert!(owner.stored.is_empty());
    let transcript = owner.send(
        b"MAIL FROM:<a@a.example>\r\nRCPT TO:<x@discard.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\nx\r\n.\r\n",
    );
    assert_eq!(
        codes(&transcript).last().map(String::as_str),
        Some("250 2.0.0")
    );
    assert_eq!(owner.stored.len(), 1);
    assert_eq!(owner.stored[0].0.recipients.len(), 1);
}

#[test]
fn rejected_sender_gets_the_policy_reply() {
    let mut owner = Owner::standard();
    owner.greet();
    assert_eq!(
        codes(&owner.send(b"MAIL FROM:<spammer@bad.example>\r\n")),
        ["550 5.7.1"]
    );
}

#[test]
fn too_many_errors_close_the_session() {
    let mut config = SessionConfig::new("mx.test.example");
    config.max_errors = 3;
    let mut owner = Owner::new(config);
    owner.run();
    let transcript = owner.send(b"FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n");
    assert_eq!(
        codes(&transcript),
        ["500 5.5.1", "500 5.5.1", "500 5.5.1", "421 4.7.0"]
    );
    assert!(owner.closed);
}

#[test]
fn overlong_command_line_is_refused_and_the_session_recovers() {
    let mut owner = Owner::standard();
    owner.greet();
    let mut line = b"NOOP ".to_vec();
    line.resize(600, b'x');
    line.extend_from_slice(b"\r\nNOOP\r\n");
    assert_eq!(codes(&owner.send(&line)), ["500 5.5.2", "250 2.0.0"]);
}

#[test]
fn long_text_line_is_refused() {
    let mut over_limit = vec![b'y'; 999];
    over_limit.extend_from_slice(b"\r\n.\r\n");
    let mut config = SessionConfig::new("mx.test.example");
    config.max_message_size = 10_000;
    let mut owner = Owner::new(config);
    owner.greet();
    owner.send(b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\n");
    assert_eq!(codes(&owner.send(&over_limit)), ["550 5.6.0"]);
    let mut at_limit = vec![b'y'; 998];
    at_limit.extend_from_slice(b"\r\n.\r\n");
    owner.send(b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\n");
    assert_eq!(codes(&owner.send(&at_limit)), ["250 2.0.0"]);
}

#[test]
fn submission_requires_auth_before_mail() {
    let mut config = SessionConfig::new("mx.test.example");
    config.auth_required = true;
    let mut owner = Owner::new(config);
    owner.greet();
    assert_eq!(
        codes(&owner.send(b"MAIL FROM:<a@a.example>\r\n")),
        ["530 5.7.0"]
    );
}

#[test]
fn refused_session_says_421_and_closes() {
    let reply = Reply::new(421, EnhancedStatus::new(4, 7, 0), "Too many sessions");
    let mut session = ServerSession::refuse(SessionConfig::new("mx"), &reply);
    assert_eq!(session.output(), b"421 4.7.0 Too many sessions\r\n");
    assert_eq!(session.poll(&mut AcceptAll), Action::Close);
}

#[test]
fn timeout_says_421() {
    let mut owner = Owner::standard();
    owner.greet();
    owner.session.timed_out();
    let transcript = owner.run();
    assert_eq!(codes(&transcript), ["421 4.4.2"]);
    assert!(owner.closed);
}

#[test]
fn utf8_recipient_is_accepted_only_in_an_smtputf8_transaction() {
    let mut owner = Owner::standard();
    owner.greet();
    owner.send("MAIL FROM:<a@a.example>\r\n".as_bytes());
    assert_eq!(
        codes(&owner.send("RCPT TO:<jürgen@b.example>\r\n".as_bytes())),
        ["553 5.6.7"]
    );
    owner.send(b"RSET\r\n");
    owner.send("MAIL FROM:<a@a.example> SMTPUTF8\r\n".as_bytes());
    assert_eq!(
        codes(&owner.send("RCPT TO:<jürgen@b.example>\r\n".as_bytes())),
        ["250 2.1.5"]
    );
}

mod auth;
mod limits;
mod sync;
