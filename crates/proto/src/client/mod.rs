//! The client side of an SMTP session as a sans-IO state machine (RFC 5321, with
//! RFC 2920 PIPELINING, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 3461
//! DSN and RFC 3207 STARTTLS).
//!
//! The owner (the delivery driver, or a test) feeds the server's bytes with
//! [`ClientSession::receive`] and calls [`ClientSession::poll`], which reads replies as far
//! as the input allows and says what to do next: read more, use the ready session, upgrade
//! to TLS, stream a message body, take a finished transaction's result, or close. Commands
//! accumulate in [`ClientSession::output`]; the owner writes them out before reading, so a
//! pipelined MAIL, RCPT... DATA group leaves in one write (RFC 2920 §3.1).
//!
//! Every command sent is remembered in order and each reply is matched with the oldest one
//! not yet answered, so pipelined and one-at-a-time sessions run through the same handlers
//! (`handlers.rs`). Without PIPELINING, RCPTs go one at a time and DATA only when some
//! RCPT was accepted. A reply nobody asked for, or one that does not parse, ends the
//! session (`ProtocolError`); so does a `421` anywhere (`ServiceClosing`): the owner then
//! defers whatever was unfinished. A transaction that did not end with a reply to the end
//! of its data leaves the server's state unknown, so the next one starts with RSET.
//!
//! **Content is never converted.** A message the peer cannot take as it is (8BITMIME or
//! BINARYMIME content to a peer without 8BITMIME, SMTPUTF8 to a peer without SMTPUTF8, or
//! larger than the peer's SIZE) is refused here, before any command is sent, with a made-up
//! 5xx reply (554 5.6.3, 553 5.6.7, 552 5.3.4): we bounce rather than downgrade MIME
//! (RFC 6152 §3 allows either), which keeps the body byte-for-byte what the sender wrote.
//!
//! Not here: sockets, TLS itself, time (the owner runs the RFC 5321 §4.5.3.2 timeout for
//! [`ClientSession::phase`]), AUTH, and BDAT/CHUNKING (bodies always go by DATA, stuffed by
//! [`crate::framing::DotStuffer`]).

mod capabilities;
mod failure;
mod handlers;
mod replies;
mod transaction;

#[cfg(test)]
mod tests;

pub use capabilities::Capabilities;
pub use failure::{FailureReason, SessionFailure};
pub use transaction::{OutgoingEnvelope, RecipientOutcome, TransactionResult};

use std::collections::VecDeque;

use crate::reply_parser::{ReplyParser, DEFAULT_MAX_LINES, DEFAULT_MAX_LINE_LEN};
use crate::Reply;
use transaction::InFlight;

/// What the client says about itself and how much it takes from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The name sent with EHLO/HELO (`hostname` in the config).
    pub ehlo_name: String,
    /// Lines per reply before the server is considered hostile (EHLO is the longest).
    pub max_reply_lines: usize,
}

impl ClientConfig {
    pub fn new(ehlo_name: impl Into<String>) -> Self {
        ClientConfig {
            ehlo_name: ehlo_name.into(),
            max_reply_lines: DEFAULT_MAX_LINES,
        }
    }
}

/// What the session waits for, which picks the timeout (RFC 5321 §4.5.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientPhase {
    /// The 220 greeting (initial 220 message: 5 minutes).
    Greeting,
    /// The reply to EHLO or HELO.
    Ehlo,
    /// The reply to STARTTLS, or the owner's TLS handshake.
    StartTls,
    /// The reply to MAIL (or to the RSET before it): 5 minutes.
    Mail,
    /// A reply to RCPT: 5 minutes.
    Rcpt,
    /// The reply to DATA: 2 minutes.
    DataInit,
    /// The owner is sending the body: 3 minutes per write.
    DataBlock,
    /// The reply to the end of the data: 10 minutes.
    DataEnd,
    /// The reply to QUIT.
    Quit,
    /// Nothing outstanding: ready for the owner, or finished.
    Idle,
}

/// What the owner must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientAction<'a> {
    /// Write out [`ClientSession::output`], then read and [`ClientSession::receive`] more.
    NeedInput,
    /// The session is usable: call `start_tls`, `send_message` or `quit`.
    Ready(&'a Capabilities),
    /// The server answered 220 to STARTTLS: write out the output, run the handshake, then
    /// call [`ClientSession::tls_established`]. On handshake failure, drop the connection.
    TlsReady,
    /// STARTTLS was refused; the session is back in Ready, still in plaintext.
    TlsRefused(Reply),
    /// The server said 354: stream the body through a `DotStuffer` (its `finish` writes
    /// the final `.` CRLF), then call [`ClientSession::body_sent`].
    SendBody,
    /// One message finished (or was refused early); the session is back in Ready.
    Transaction(TransactionResult),
    /// The connection is unusable: close it. The output may hold a QUIT worth flushing.
    Failed(SessionFailure),
    /// QUIT was answered: close the connection.
    Closed,
}

/// A command whose reply has not been read yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaited {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Rset,
    Mail,
    /// The RCPT for this envelope recipient.
    Rcpt(usize),
    Data,
    DataEnd,
    Quit,
}

impl Awaited {
    fn phase(self) -> ClientPhase {
        match self {
            Awaited::Greeting => ClientPhase::Greeting,
            Awaited::Ehlo | Awaited::Helo => ClientPhase::Ehlo,
            Awaited::StartTls => ClientPhase::StartTls,
            Awaited::Rset | Awaited::Mail => ClientPhase::Mail,
            Awaited::Rcpt(_) => ClientPhase::Rcpt,
            Awaited::Data => ClientPhase::DataInit,
            Awaited::DataEnd => ClientPhase::DataEnd,
            Awaited::Quit => ClientPhase::Quit,
        }
    }
}

#[derive(Debug)]
enum State {
    /// Commands are out; replies are read in the order of `awaiting`.
    ExpectReplies,
    /// Nothing outstanding; the owner picks the next step.
    Ready,
    /// Waiting for [`ClientSession::tls_established`].
    ExpectTlsHandshake,
    /// Waiting for [`ClientSession::body_sent`].
    ExpectBody,
    Closed,
    Failed(SessionFailure),
}

/// Something `poll` reports once before going back to what the state says.
#[derive(Debug)]
enum Event {
    TlsRefused(Reply),
    Transaction(TransactionResult),
}

/// One SMTP client session. See the module documentation for the protocol.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    state: State,
    event: Option<Event>,
    awaiting: VecDeque<Awaited>,
    input: Vec<u8>,
    input_start: usize,
    output: Vec<u8>,
    parser: ReplyParser,
    greeting: Option<Reply>,
    capabilities: Option<Capabilities>,
    transaction: Option<InFlight>,
    /// The server may still hold a transaction: send RSET before the next MAIL.
    needs_rset: bool,
}

impl ClientSession {
    /// A new session, waiting for the server's 220 greeting.
    pub fn new(config: ClientConfig) -> Self {
        ClientSession {
            parser: ReplyParser::new(DEFAULT_MAX_LINE_LEN, config.max_reply_lines),
            config,
            state: State::ExpectReplies,
            event: None,
            awaiting: VecDeque::from([Awaited::Greeting]),
            input: Vec::new(),
            input_start: 0,
            output: Vec::new(),
            greeting: None,
            capabilities: None,
            transaction: None,
            needs_rset: false,
        }
    }

    /// Appends bytes received from the server. Bytes while no reply is expected end the
    /// session (a reply nobody asked for); after it has ended they are ignored.
    pub fn receive(&mut self, bytes: &[u8]) {
        if bytes.is_empty() || matches!(self.state, State::Closed | State::Failed(_)) {
            return;
        }
        self.input.drain(..self.input_start);
        self.input_start = 0;
        self.input.extend_from_slice(bytes);
        self.reject_unexpected_input();
    }

    /// Commands waiting to be written.
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// The owner wrote [`ClientSession::output`] out.
    pub fn clear_output(&mut self) {
        self.output.clear();
    }

    /// Reads replies as far as possible and says what the owner must do next.
    pub fn poll(&mut self) -> ClientAction<'_> {
        loop {
            match self.event.take() {
                Some(Event::TlsRefused(reply)) => return ClientAction::TlsRefused(reply),
                Some(Event::Transaction(result)) => return ClientAction::Transaction(result),
                None => {}
            }
            match self.state {
                State::ExpectReplies => {
                    if !self.step_reply() {
                        return ClientAction::NeedInput;
                    }
                }
                State::Ready => return self.ready_action(),
                State::ExpectTlsHandshake => return ClientAction::TlsReady,
                State::ExpectBody => return ClientAction::SendBody,
                State::Closed => return ClientAction::Closed,
                State::Failed(ref failure) => return ClientAction::Failed(failure.clone()),
            }
        }
    }

    /// Sends STARTTLS; only when Ready and the server offered it (otherwise ignored).
    pub fn start_tls(&mut self) {
        let offered = self.capabilities.as_ref().is_some_and(|c| c.starttls);
        if self.is_ready() && offered {
            self.send("STARTTLS\r\n", Awaited::StartTls);
        }
    }

    /// The TLS handshake after STARTTLS succeeded: everything learnt in plaintext is
    /// forgotten, and EHLO is sent again (RFC 3207 §4.2).
    pub fn tls_established(&mut self) {
        if !matches!(self.state, State::ExpectTlsHandshake) {
            return;
        }
        self.capabilities = None;
        self.input.clear();
        self.input_start = 0;
        self.parser.reset();
        self.send_hello(Awaited::Ehlo);
    }

    /// Starts a transaction for `envelope`; only when Ready (otherwise ignored). A message
    /// this peer cannot take is refused at once: the next `poll` gives its result.
    pub fn send_message(&mut self, envelope: &OutgoingEnvelope) {
        let Some(peer) = self.capabilities.as_ref().filter(|_| self.is_ready()) else {
            return;
        };
        if let Some(reply) = transaction::local_refusal(envelope, peer) {
            let result = TransactionResult::refused_locally(reply, envelope.recipients.len());
            self.event = Some(Event::Transaction(result));
            return;
        }
        let flight = InFlight::new(envelope, peer);
        if self.needs_rset {
            self.transaction = Some(flight);
            self.send("RSET\r\n", Awaited::Rset);
        } else {
            self.begin_transaction(flight);
        }
    }

    /// The owner wrote the dot-stuffed body and the final `.` CRLF.
    pub fn body_sent(&mut self) {
        if matches!(self.state, State::ExpectBody) {
            self.awaiting.push_back(Awaited::DataEnd);
            self.state = State::ExpectReplies;
        }
    }

    /// Sends QUIT; only when Ready (otherwise ignored).
    pub fn quit(&mut self) {
        if self.is_ready() {
            self.send("QUIT\r\n", Awaited::Quit);
        }
    }

    /// What the server offered, once EHLO (or HELO) was answered.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.capabilities.as_ref()
    }

    /// What the session waits for now.
    pub fn phase(&self) -> ClientPhase {
        match self.state {
            State::ExpectReplies => self
                .awaiting
                .front()
                .map_or(ClientPhase::Idle, |awaited| awaited.phase()),
            State::ExpectTlsHandshake => ClientPhase::StartTls,
            State::ExpectBody => ClientPhase::DataBlock,
            State::Ready | State::Closed | State::Failed(_) => ClientPhase::Idle,
        }
    }

    fn is_ready(&self) -> bool {
        matches!(self.state, State::Ready) && self.event.is_none()
    }

    fn ready_action(&self) -> ClientAction<'_> {
        match &self.capabilities {
            Some(capabilities) => ClientAction::Ready(capabilities),
            None => ClientAction::NeedInput,
        }
    }

    /// Reads and handles one reply; false when no complete reply is buffered.
    fn step_reply(&mut self) -> bool {
        let progress = match self.parser.feed(&self.input[self.input_start..]) {
            Ok(progress) => progress,
            Err(error) => {
                self.fail_now(FailureReason::ProtocolError(error.to_string()), None);
                return true;
            }
        };
        self.input_start += progress.consumed;
        let Some(reply) = progress.reply else {
            return false;
        };
        self.handle_reply(reply);
        self.reject_unexpected_input();
        true
    }

    /// Input is only welcome while replies are expected.
    fn reject_unexpected_input(&mut self) {
        let pending = self.input_start < self.input.len();
        let expected = matches!(
            self.state,
            State::ExpectReplies | State::Closed | State::Failed(_)
        );
        if pending && !expected {
            let reason = FailureReason::ProtocolError(
                "the server sent data when no reply was expected".to_owned(),
            );
            self.fail_now(reason, None);
        }
    }

    /// Appends a command line and remembers that its reply is due.
    fn send(&mut self, line: &str, awaited: Awaited) {
        self.output.extend_from_slice(line.as_bytes());
        self.awaiting.push_back(awaited);
        self.state = State::ExpectReplies;
    }

    fn fail_now(&mut self, reason: FailureReason, reply: Option<Reply>) {
        self.fail(self.phase(), reason, reply);
    }

    fn fail(&mut self, phase: ClientPhase, reason: FailureReason, reply: Option<Reply>) {
        self.awaiting.clear();
        self.transaction = None;
        self.state = State::Failed(SessionFailure {
            phase,
            reply,
            reason,
        });
    }
}
