//! Transcript tests: a scripted server feeds canned replies, a scripted owner answers
//! the session's requests, and every byte the client writes is checked.

use std::collections::VecDeque;

use super::*;
use crate::address::{parse_forward_path, parse_reverse_path};
use crate::framing::DotStuffer;
use crate::{BodyType, EnhancedStatus, MailParams, Notify, OriginalRecipient, RcptParams, Ret};

const GREETING: &str = "220 mx.test.example ESMTP ready\r\n";
const BODY: &[u8] = b"Subject: hi\r\n\r\n.dotted line\r\nend\r\n";
const STUFFED_BODY: &str = "Subject: hi\r\n\r\n..dotted line\r\nend\r\n.\r\n";

/// What the owner does each time the session is Ready.
#[derive(Debug, Clone)]
enum Move {
    Send(OutgoingEnvelope),
    StartTls,
    Quit,
}

/// What the owner was told, in order (Ready and NeedInput left out).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    TlsReady,
    TlsRefused(Reply),
    Transaction(TransactionResult),
    Failed(SessionFailure),
    Closed,
}

struct Owner {
    session: ClientSession,
    moves: VecDeque<Move>,
    seen: Vec<Seen>,
}

impl Owner {
    fn new(moves: Vec<Move>) -> Self {
        Owner {
            session: ClientSession::new(ClientConfig::new("client.example")),
            moves: moves.into(),
            seen: Vec::new(),
        }
    }

    /// Feeds what the server sent (in one piece); returns everything the client wrote.
    fn server(&mut self, bytes: &str) -> String {
        self.feed(bytes.as_bytes())
    }

    fn feed(&mut self, bytes: &[u8]) -> String {
        self.session.receive(bytes);
        self.run()
    }

    fn run(&mut self) -> String {
        let mut written = Vec::new();
        loop {
            written.extend_from_slice(self.session.output());
            self.session.clear_output();
            match self.session.poll() {
                ClientAction::NeedInput => break,
                ClientAction::Ready(_) => match self.moves.pop_front() {
                    Some(Move::Send(envelope)) => self.session.send_message(&envelope),
                    Some(Move::StartTls) => self.session.start_tls(),
                    Some(Move::Quit) => self.session.quit(),
                    None => break,
                },
                ClientAction::TlsReady => {
                    self.seen.push(Seen::TlsReady);
                    self.session.tls_established();
                }
                ClientAction::TlsRefused(reply) => self.seen.push(Seen::TlsRefused(reply)),
                ClientAction::SendBody => {
                    let mut stuffer = DotStuffer::new();
                    stuffer.stuff(BODY, &mut written);
                    stuffer.finish(&mut written);
                    self.session.body_sent();
                }
                ClientAction::Transaction(result) => self.seen.push(Seen::Transaction(result)),
                ClientAction::Failed(failure) => {
                    self.seen.push(Seen::Failed(failure));
                    break;
                }
                ClientAction::Closed => {
                    self.seen.push(Seen::Closed);
                    break;
                }
            }
        }
        written.extend_from_slice(self.session.output());
        self.session.clear_output();
        String::from_utf8_lossy(&written).into_owned()
    }

    /// Greeting and EHLO answered with these keywords; also returns what the client
    /// wrote after the EHLO reply (the first move's commands).
    fn greeted(moves: Vec<Move>, keywords: &[&str]) -> (Self, String) {
        let mut owner = Owner::new(moves);
        assert_eq!(owner.run(), "");
        assert_eq!(owner.server(GREETING), "EHLO client.example\r\n");
        let written = owner.ehlo(keywords);
        (owner, written)
    }

    fn ehlo(&mut self, keywords: &[&str]) -> String {
        self.server(&ehlo_reply(keywords))
    }

    fn transaction(&self, index: usize) -> &TransactionResult {
        let transactions: Vec<_> = self
            .seen
            .iter()
            .filter_map(|seen| match seen {
                Seen::Transaction(result) => Some(result),
                _ => None,
            })
            .collect();
        transactions[index]
    }

    fn failure(&self) -> &SessionFailure {
        match self.seen.last() {
            Some(Seen::Failed(failure)) => failure,
            other => panic!("expected a failure, saw {other:?}"),
        }
    }
}

fn ehlo_reply(keywords: &[&str]) -> String {
    let mut lines = vec!["mx.test.example Hello client.example"];
    lines.extend_from_slice(keywords);
    let count = lines.len();
    lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let separator = if index + 1 == count { ' ' } else { '-' };
            format!("250{separator}{line}\r\n")
        })
        .collect()
}

fn envelope(from: &str, to: &[&str]) -> OutgoingEnvelope {
    let sender = parse_reverse_path(format!("<{from}>").as_bytes(), true).expect("sender");
    let recipients = to
        .iter()
        .map(|to| {
            let path = parse_forward_path(format!("<{to}>").as_bytes(), true).expect("rcpt");
            (path, RcptParams::default())
        })
        .collect();
    OutgoingEnvelope {
        sender,
        params: MailParams::default(),
        recipients,
        size: BODY.len() as u64,
    }
}

fn simple() -> OutgoingEnvelope {
    envelope("alice@a.example", &["bob@b.example", "carol@b.example"])
}

/// Parses one canned reply the way the session would.
fn reply(text: &str) -> Reply {
    let progress = crate::reply_parser::ReplyParser::default().feed(text.as_bytes());
    progress
        .ok()
        .and_then(|progress| progress.reply)
        .expect("reply")
}

fn outcomes(result: &TransactionResult) -> Vec<RecipientOutcome> {
    (0..result.recipients.len())
        .map(|index| result.outcome(index))
        .collect()
}

#[test]
fn greeting_refused_says_quit_and_fails() {
    for greeting in ["554 5.7.1 No thanks\r\n", "421 mx busy\r\n"] {
        let mut owner = Owner::new(vec![]);
        assert_eq!(owner.server(greeting), "QUIT\r\n");
        let failure = owner.failure();
        assert_eq!(failure.reason, FailureReason::GreetingRefused);
        assert_eq!(failure.phase, ClientPhase::Greeting);
        assert_eq!(failure.reply, Some(reply(greeting)));
    }
}

#[test]
fn ehlo_refused_falls_back_to_helo_without_extensions() {
    let mut envelope = simple();
    envelope.params.body = None;
    envelope.params.ret = Some(Ret::Full);
    let mut owner = Owner::new(vec![Move::Send(envelope)]);
    assert_eq!(owner.server(GREETING), "EHLO client.example\r\n");
    assert_eq!(
        owner.server("502 5.5.1 Command not implemented\r\n"),
        "HELO client.example\r\n"
    );
    assert_eq!(
        owner.server("250 mx.test.example\r\n"),
        "MAIL FROM:<alice@a.example>\r\n"
    );
    let capabilities = owner.session.capabilities().expect("capabilities");
    assert!(!capabilities.esmtp);
    assert_eq!(capabilities.greeting, reply(GREETING));
    assert_eq!(capabilities.ehlo_reply, reply("250 mx.test.example\r\n"));
}

#[test]
fn helo_refused_fails() {
    let mut owner = Owner::new(vec![]);
    owner.server(GREETING);
    assert_eq!(owner.server("500 what\r\n"), "HELO client.example\r\n");
    assert_eq!(owner.server("550 not you\r\n"), "QUIT\r\n");
    assert_eq!(owner.failure().reason, FailureReason::HelloRefused);
    assert_eq!(owner.failure().phase, ClientPhase::Ehlo);
}

#[test]
fn pipelined_transaction_leaves_in_one_batch() {
    let moves = vec![Move::Send(simple()), Move::Quit];
    let mut owner = Owner::new(moves);
    owner.server(GREETING);
    let batch = owner.ehlo(&["PIPELINING", "SIZE 10000"]);
    let expected = format!(
        "MAIL FROM:<alice@a.example> SIZE={}\r\nRCPT TO:<bob@b.example>\r\n\
         RCPT TO:<carol@b.example>\r\nDATA\r\n",
        BODY.len()
    );
    assert_eq!(batch, expected);
    assert_eq!(owner.session.phase(), ClientPhase::Mail);
    let body = owner.server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n");
    assert_eq!(body, STUFFED_BODY);
    assert_eq!(owner.session.phase(), ClientPhase::DataEnd);
    assert_eq!(owner.server("250 2.0.0 Queued as X\r\n"), "QUIT\r\n");
    let result = owner.transaction(0).clone();
    let delivered = RecipientOutcome::Delivered(reply("250 2.0.0 Queued as X\r\n"));
    assert_eq!(outcomes(&result), [delivered.clone(), delivered]);
    assert_eq!(owner.server("221 2.0.0 Bye\r\n"), "");
    assert_eq!(owner.seen.last(), Some(&Seen::Closed));
    assert_eq!(owner.session.phase(), ClientPhase::Idle);
}

#[test]
fn without_pipelining_commands_go_one_at_a_time() {
    let (mut owner, written) = Owner::greeted(vec![Move::Send(simple())], &["8BITMIME"]);
    assert_eq!(written, "MAIL FROM:<alice@a.example>\r\n");
    assert_eq!(owner.session.phase(), ClientPhase::Mail);
    assert_eq!(owner.server("250 Ok\r\n"), "RCPT TO:<bob@b.example>\r\n");
    assert_eq!(owner.session.phase(), ClientPhase::Rcpt);
    assert_eq!(owner.server("250 Ok\r\n"), "RCPT TO:<carol@b.example>\r\n");
    assert_eq!(owner.server("250 Ok\r\n"), "DATA\r\n");
    assert_eq!(owner.session.phase(), ClientPhase::DataInit);
    assert_eq!(owner.server("354 Go\r\n"), STUFFED_BODY);
    assert_eq!(owner.server("250 Ok\r\n"), "");
    assert_eq!(owner.transaction(0).final_reply, Some(reply("250 Ok\r\n")));
}

#[test]
fn body_waits_for_the_owner() {
    let mut session = ClientSession::new(ClientConfig::new("client.example"));
    session.receive(GREETING.as_bytes());
    assert_eq!(session.poll(), ClientAction::NeedInput);
    session.receive(ehlo_reply(&[]).as_bytes());
    assert!(matches!(session.poll(), ClientAction::Ready(_)));
    session.send_message(&envelope("a@a.example", &["b@b.example"]));
    for answer in ["250 Ok\r\n", "250 Ok\r\n", "354 Go\r\n"] {
        assert_eq!(session.poll(), ClientAction::NeedInput);
        session.receive(answer.as_bytes());
    }
    assert_eq!(session.poll(), ClientAction::SendBody);
    assert_eq!(session.phase(), ClientPhase::DataBlock);
    assert_eq!(session.poll(), ClientAction::SendBody);
    session.body_sent();
    assert_eq!(session.poll(), ClientAction::NeedInput);
}

#[test]
fn mixed_recipients_each_get_their_own_outcome() {
    for keywords in [&["PIPELINING"][..], &[]] {
        let (mut owner, written) = Owner::greeted(vec![Move::Send(simple())], keywords);
        assert!(
            written.starts_with("MAIL FROM:<alice@a.example>\r\n"),
            "{written}"
        );
        for answer in [
            "250 Ok\r\n",
            "550 5.1.1 No such user\r\n",
            "250 Ok\r\n",
            "354 Go\r\n",
        ] {
            owner.server(answer);
        }
        owner.server("250 2.0.0 Done\r\n");
        let result = owner.transaction(0);
        assert_eq!(
            outcomes(result),
            [
                RecipientOutcome::Failed(reply("550 5.1.1 No such user\r\n")),
                RecipientOutcome::Delivered(reply("250 2.0.0 Done\r\n")),
            ],
            "{keywords:?}"
        );
    }
}

#[test]
fn refused_mail_fails_every_recipient_with_its_reply() {
    let refusal = "451 4.7.1 Try later\r\n";
    // Without pipelining nothing more is sent; with it, the server answers the rest 503.
    let (mut owner, written) = Owner::greeted(vec![Move::Send(simple())], &[]);
    assert_eq!(written, "MAIL FROM:<alice@a.example>\r\n");
    assert_eq!(owner.server(refusal), "");
    let result = owner.transaction(0);
    assert_eq!(result.recipients, [None, None]);
    let deferred = RecipientOutcome::Deferred(reply(refusal));
    assert_eq!(outcomes(result), [deferred.clone(), deferred.clone()]);

    let (mut owner, _) = Owner::greeted(vec![Move::Send(simple())], &["PIPELINING"]);
    let bad_sequence = "503 5.5.1 Need MAIL\r\n";
    owner.server(&[refusal, bad_sequence, bad_sequence, bad_sequence].concat());
    let result = owner.transaction(0);
    assert_eq!(result.data, Some(reply(bad_sequence)));
    assert_eq!(outcomes(result), [deferred.clone(), deferred]);
}

#[test]
fn all_recipients_refused_without_pipelining_sends_no_data() {
    let moves = vec![Move::Send(simple()), Move::Send(simple())];
    let (mut owner, written) = Owner::greeted(moves, &[]);
    assert_eq!(written, "MAIL FROM:<alice@a.example>\r\n");
    owner.server("250 Ok\r\n");
    owner.server("550 5.1.1 No\r\n");
    assert_eq!(owner.server("450 4.2.0 Busy\r\n"), "RSET\r\n");
    let result = owner.transaction(0);
    assert_eq!(result.data, None);
    assert_eq!(
        outcomes(result),
        [
            RecipientOutcome::Failed(reply("550 5.1.1 No\r\n")),
            RecipientOutcome::Deferred(reply("450 4.2.0 Busy\r\n")),
        ]
    );
}

#[test]
fn all_recipients_refused_with_pipelining_takes_the_data_refusal() {
    let (mut owner, _) = Owner::greeted(vec![Move::Send(simple())], &["PIPELINING"]);
    let replies = "250 Ok\r\n550 5.1.1 No\r\n550 5.1.1 No\r\n554 5.5.1 No valid recipients\r\n";
    assert_eq!(owner.server(replies), "");
    let result = owner.transaction(0);
    assert_eq!(result.final_reply, None);
    let failed = RecipientOutcome::Failed(reply("550 5.1.1 No\r\n"));
    assert_eq!(outcomes(result), [failed.clone(), failed]);
}

#[test]
fn data_accepted_with_no_recipient_sends_an_empty_message() {
    let moves = vec![Move::Send(simple()), Move::Send(simple())];
    let (mut owner, _) = Owner::greeted(moves, &["PIPELINING"]);
    let replies = "250 Ok\r\n550 5.1.1 No\r\n452 4.5.3 Later\r\n354 Go\r\n";
    assert_eq!(owner.server(replies), ".\r\n");
    // The transaction ended properly, so the next one needs no RSET.
    let next = owner.server("554 5.5.1 No recipients\r\n");
    assert!(next.starts_with("MAIL FROM:"), "{next}");
    let result = owner.transaction(0);
    assert_eq!(
        result.final_reply,
        Some(reply("554 5.5.1 No recipients\r\n"))
    );
    assert_eq!(
        outcomes(result),
        [
            RecipientOutcome::Failed(reply("550 5.1.1 No\r\n")),
            RecipientOutcome::Deferred(reply("452 4.5.3 Later\r\n")),
        ]
    );
}

#[test]
fn service_closing_mid_transaction_fails_the_session() {
    let (mut owner, _) = Owner::greeted(vec![Move::Send(simple())], &["PIPELINING"]);
    assert_eq!(owner.server("250 Ok\r\n421 4.3.2 Shutting down\r\n"), "");
    let failure = owner.failure().clone();
    assert_eq!(failure.reason, FailureReason::ServiceClosing);
    assert_eq!(failure.phase, ClientPhase::Rcpt);
    assert_eq!(failure.reply, Some(reply("421 4.3.2 Shutting down\r\n")));
    assert!(!owner.seen.iter().any(|s| matches!(s, Seen::Transaction(_))));
    // Whatever comes after is ignored.
    assert_eq!(owner.server("250 Ok\r\n"), "");
    assert_eq!(owner.session.poll(), ClientAction::Failed(failure));
}

#[test]
fn starttls_accepted_sends_ehlo_again_and_refreshes_capabilities() {
    let moves = vec![Move::StartTls, Move::Send(simple())];
    let (mut owner, written) = Owner::greeted(moves, &["STARTTLS", "SIZE 100"]);
    assert_eq!(written, "STARTTLS\r\n");
    assert_eq!(owner.session.phase(), ClientPhase::StartTls);
    assert_eq!(
        owner.server("220 2.0.0 Ready\r\n"),
        "EHLO client.example\r\n"
    );
    assert_eq!(owner.seen, [Seen::TlsReady]);
    assert_eq!(owner.session.capabilities(), None);
    let batch = owner.ehlo(&["PIPELINING", "AUTH PLAIN"]);
    assert!(batch.ends_with("DATA\r\n"), "{batch}");
    assert!(!batch.contains("SIZE="), "{batch}");
    let capabilities = owner.session.capabilities().expect("capabilities");
    assert!(!capabilities.starttls);
    assert!(capabilities.pipelining);
    assert_eq!(capabilities.auth, ["PLAIN"]);
}

#[test]
fn starttls_refused_stays_in_plaintext() {
    let moves = vec![Move::StartTls, Move::Send(simple())];
    let (mut owner, written) = Owner::greeted(moves, &["STARTTLS"]);
    assert_eq!(written, "STARTTLS\r\n");
    let next = owner.server("454 4.7.0 TLS not available\r\n");
    assert_eq!(next, "MAIL FROM:<alice@a.example>\r\n");
    assert_eq!(
        owner.seen,
        [Seen::TlsRefused(reply("454 4.7.0 TLS not available\r\n"))]
    );
}

#[test]
fn starttls_is_not_sent_unless_offered() {
    let (mut owner, written) = Owner::greeted(vec![Move::StartTls], &["PIPELINING"]);
    assert_eq!(written, "");
    assert!(matches!(owner.session.poll(), ClientAction::Ready(_)));
}

#[test]
fn messages_the_peer_cannot_take_are_refused_without_a_command() {
    let mut too_big = simple();
    too_big.size = 1001;
    let mut utf8 = simple();
    utf8.params.smtputf8 = true;
    let mut utf8_address = envelope("alice@a.example", &["b\u{fc}b@b.example"]);
    utf8_address.params.smtputf8 = false;
    let mut eight_bit = simple();
    eight_bit.params.body = Some(BodyType::EightBitMime);
    let mut binary = simple();
    binary.params.body = Some(BodyType::BinaryMime);
    let no_recipients = envelope("alice@a.example", &[]);
    let cases = [
        (too_big, "552", EnhancedStatus::new(5, 3, 4)),
        (utf8, "553", EnhancedStatus::new(5, 6, 7)),
        (utf8_address, "553", EnhancedStatus::new(5, 6, 7)),
        (eight_bit, "554", EnhancedStatus::new(5, 6, 3)),
        (binary, "554", EnhancedStatus::new(5, 6, 3)),
        (no_recipients, "554", EnhancedStatus::new(5, 5, 1)),
    ];
    for (envelope, code, status) in cases {
        let count = envelope.recipients.len();
        let (owner, written) =
            Owner::greeted(vec![Move::Send(envelope)], &["SIZE 1000", "PIPELINING"]);
        assert_eq!(written, "", "{code}");
        let result = owner.transaction(0);
        assert_eq!(result.mail.to_string()[..3], *code);
        assert_eq!(result.mail.status, Some(status));
        assert_eq!(result.recipients, vec![None; count]);
        for outcome in outcomes(result) {
            assert_eq!(outcome, RecipientOutcome::Failed(result.mail.clone()));
        }
    }
}

#[test]
fn extensions_offered_are_used() {
    let mut message = envelope("alice@a.example", &["b\u{fc}b@b.example"]);
    message.params.smtputf8 = true;
    message.params.body = Some(BodyType::BinaryMime);
    message.size = 5000;
    let keywords = ["SIZE 0", "8BITMIME", "SMTPUTF8"];
    let (_, written) = Owner::greeted(vec![Move::Send(message)], &keywords);
    assert_eq!(
        written,
        "MAIL FROM:<alice@a.example> SIZE=5000 BODY=8BITMIME SMTPUTF8\r\n"
    );
}

fn dsn_envelope() -> OutgoingEnvelope {
    let mut message = envelope("alice@a.example", &["bob@b.example"]);
    message.params.ret = Some(Ret::Headers);
    message.params.envid = Some("id+1 x".to_owned());
    message.recipients[0].1 = RcptParams {
        notify: Some(Notify {
            success: true,
            failure: true,
            ..Notify::default()
        }),
        orcpt: Some(OriginalRecipient {
            addr_type: "rfc822".to_owned(),
            address: "b=b@b.example".to_owned(),
        }),
    };
    message
}

#[test]
fn dsn_parameters_only_when_offered() {
    let (_, written) = Owner::greeted(vec![Move::Send(dsn_envelope())], &["DSN", "PIPELINING"]);
    assert_eq!(
        written,
        "MAIL FROM:<alice@a.example> RET=HDRS ENVID=id+2B1+20x\r\n\
         RCPT TO:<bob@b.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+3Db@b.example\r\n\
         DATA\r\n"
    );
    let (_, written) = Owner::greeted(vec![Move::Send(dsn_envelope())], &["PIPELINING"]);
    assert_eq!(
        written,
        "MAIL FROM:<alice@a.example>\r\nRCPT TO:<bob@b.example>\r\nDATA\r\n"
    );
}

#[test]
fn rset_comes_before_the_mail_after_an_unfinished_transaction() {
    let moves = vec![
        Move::Send(simple()),
        Move::Send(simple()),
        Move::Send(simple()),
    ];
    let (mut owner, _) = Owner::greeted(moves, &["PIPELINING"]);
    // DATA refused: the server may still hold the transaction.
    let after = owner.server("250 Ok\r\n250 Ok\r\n250 Ok\r\n451 4.3.0 Disk full\r\n");
    assert_eq!(after, "RSET\r\n");
    assert_eq!(owner.session.phase(), ClientPhase::Mail);
    let batch = owner.server("250 2.0.0 Reset\r\n");
    assert!(
        batch.starts_with("MAIL FROM:<alice@a.example>\r\n"),
        "{batch}"
    );
    assert_eq!(
        outcomes(owner.transaction(0))[0],
        RecipientOutcome::Deferred(reply("451 4.3.0 Disk full\r\n"))
    );
    // A transaction that ended with a reply to the data needs no RSET.
    owner.server("250 Ok\r\n250 Ok\r\n250 Ok\r\n354 Go\r\n");
    let batch = owner.server("550 5.7.1 Spam\r\n");
    assert!(batch.starts_with("MAIL FROM:"), "{batch}");
    assert_eq!(
        outcomes(owner.transaction(1))[1],
        RecipientOutcome::Failed(reply("550 5.7.1 Spam\r\n"))
    );
}

#[test]
fn rset_refused_is_a_protocol_error() {
    let moves = vec![Move::Send(simple()), Move::Send(simple())];
    let (mut owner, _) = Owner::greeted(moves, &[]);
    assert_eq!(owner.server("550 No\r\n"), "RSET\r\n");
    assert_eq!(owner.server("500 What\r\n"), "");
    assert!(matches!(
        owner.failure().reason,
        FailureReason::ProtocolError(_)
    ));
}

#[test]
fn protocol_errors_end_the_session() {
    let cases: &[(&[&str], &str)] = &[
        (&["hello\r\n"], "not a reply"),
        (&["220-a\r\n230 b\r\n"], "mixed codes"),
        (&["250 ok\r\n"], "greeting not 220"),
        (
            &[GREETING, "250 mx\r\n250 extra\r\n"],
            "more replies than commands",
        ),
        (&[GREETING, "354 what\r\n"], "354 to EHLO"),
        (&[GREETING, "250 mx\r\n", "2"], "bytes while ready"),
    ];
    for (turns, case) in cases {
        let mut owner = Owner::new(vec![]);
        for turn in *turns {
            owner.server(turn);
        }
        let failure = owner.failure();
        assert!(
            matches!(failure.reason, FailureReason::ProtocolError(_)),
            "{case}: {failure}"
        );
    }
}

#[test]
fn unexpected_reply_to_mail_is_a_protocol_error() {
    let (mut owner, _) = Owner::greeted(vec![Move::Send(simple())], &["PIPELINING"]);
    owner.server("354 Go\r\n");
    assert_eq!(owner.failure().phase, ClientPhase::Mail);
    assert_eq!(owner.failure().reply, Some(reply("354 Go\r\n")));
}

#[test]
fn outcome_of_an_unanswered_recipient_is_deferred() {
    let result = TransactionResult {
        mail: reply("250 Ok\r\n"),
        recipients: vec![Some(reply("250 Ok\r\n")), None],
        data: Some(reply("354 Go\r\n")),
        final_reply: None,
    };
    for index in [0, 1, 2] {
        assert!(
            matches!(result.outcome(index), RecipientOutcome::Deferred(ref r) if r.code == 451),
            "{index}"
        );
    }
}

/// A conversation: two messages (pipelined, mixed outcomes), then QUIT.
fn conversation() -> (Vec<Move>, Vec<&'static str>) {
    let moves = vec![
        Move::Send(simple()),
        Move::Send(simple()),
        Move::Send(simple()),
        Move::Quit,
    ];
    let turns = vec![
        "220-mx.test.example ESMTP\r\n220 second line\r\n",
        "250-mx.test.example Hello\r\n250-PIPELINING\r\n250-SIZE 5000\r\n250 8BITMIME\r\n",
        "250 2.1.0 Ok\r\n550 5.1.1 No such user\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
        "250 2.0.0 Queued\r\n",
        "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n451 4.3.0 Try later\r\n",
        "250 2.0.0 Reset\r\n",
        "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
        "250 2.0.0 Queued\r\n",
        "221 2.0.0 Bye\r\n",
    ];
    (moves, turns)
}

/// Runs the conversation, delivering each turn in the pieces `split` says.
fn run_conversation(split: impl Fn(usize, &[u8]) -> Vec<&[u8]>) -> (Vec<String>, Vec<Seen>) {
    let (moves, turns) = conversation();
    let mut owner = Owner::new(moves);
    let mut written = vec![owner.run()];
    for (index, turn) in turns.iter().enumerate() {
        let pieces = split(index, turn.as_bytes());
        written.push(pieces.iter().map(|piece| owner.feed(piece)).collect());
    }
    (written, owner.seen)
}

#[test]
fn every_byte_split_of_the_replies_gives_the_same_result() {
    let (whole_written, whole_seen) = run_conversation(|_, turn| vec![turn]);
    assert_eq!(whole_seen.last(), Some(&Seen::Closed));
    assert_eq!(whole_seen.len(), 4, "{whole_seen:?}");
    let (_, turns) = conversation();
    for (split_turn, turn) in turns.iter().enumerate() {
        for at in 1..turn.len() {
            let (written, seen) = run_conversation(|index, bytes| {
                if index == split_turn {
                    vec![&bytes[..at], &bytes[at..]]
                } else {
                    vec![bytes]
                }
            });
            assert_eq!(written, whole_written, "turn {split_turn} split at {at}");
            assert_eq!(seen, whole_seen, "turn {split_turn} split at {at}");
        }
    }
    let (written, seen) = run_conversation(|_, bytes| bytes.chunks(1).collect());
    assert_eq!((written, seen), (whole_written, whole_seen));
}

#[test]
fn plaintext_after_the_starttls_reply_is_refused() {
    // RFC 3207 §4.2 / STARTTLS response injection: nothing may follow the 220.
    let (mut owner, _) = Owner::greeted(vec![Move::StartTls], &["STARTTLS"]);
    assert_eq!(owner.server("220 Ready\r\n250 injected\r\n"), "");
    assert!(!owner.seen.contains(&Seen::TlsReady));
    assert!(matches!(
        owner.failure().reason,
        FailureReason::ProtocolError(_)
    ));
    assert_eq!(owner.failure().phase, ClientPhase::StartTls);
}
