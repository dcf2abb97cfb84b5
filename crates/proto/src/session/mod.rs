//! The server side of an SMTP session as a sans-IO state machine.
//!
//! The owner (the tokio driver in `posthorn-server`, or a test) feeds received bytes with
//! [`ServerSession::receive`] and repeatedly calls [`ServerSession::poll`], which runs the
//! protocol as far as the input allows and says what the owner must do next: read more,
//! upgrade to TLS, check AUTH credentials, open storage for a message, store body bytes,
//! commit, or close. Replies accumulate in [`ServerSession::output`]; the owner writes them
//! out before reading more or before acting on the request (so pipelined replies leave in
//! one write, RFC 2920).
//!
//! Requests that need an answer (`StartTls`, `Authenticate`, `StartMessage`,
//! `EndMessage`) park the machine in a state named for what it expects until the owner
//! calls the matching method (`tls_established`, `auth_verdict`, `storage_ready`,
//! `message_stored`). Input that arrives meanwhile is kept, except across STARTTLS, where
//! everything received before the handshake is discarded (RFC 3207 §4.2, CVE-2011-0411).
//!
//! **Pipelining synchronisation** (RFC 2920 §3.1, enforced for clients that have not
//! authenticated, see `sync.rs`): PIPELINING lets a client send MAIL, RCPT... DATA in one
//! write, but nothing may follow DATA before its reply, and nothing may precede the
//! greeting. A client that sends input before the greeting was written out (an early
//! talker), or any byte after a `DATA` line before that DATA was answered, gets
//! `554 5.5.0` and the connection is closed: those bytes would otherwise run as commands
//! or become message content by timing alone. Everything else pipelines freely; EHLO,
//! NOOP... last in a group is not enforced, since replies to them are answered in order
//! and change nothing that a later command in the same write depends on.
//!
//! **Content limits**: the message size, the text line length, the header section size
//! and the hop count (`Received:` fields, RFC 5321 §6.3) are measured as the content
//! streams and refused at its end (`552 5.3.4`, `550 5.6.0`, `552 5.3.4`, `554 5.4.6`).
//! Timing (command deadlines, DATA rate) is the owner's: see [`ServerSession::timed_out`]
//! and [`ServerSession::data_too_slow`].

mod auth;
mod commands;
mod config;
mod content;
mod headers;
mod policy;
mod replies;
mod sync;
mod transaction;

#[cfg(test)]
mod tests;

pub use crate::sasl::{Credentials, Mechanism};
pub use auth::AuthVerdict;
pub use config::{Extensions, SessionConfig};
pub use policy::{AcceptAll, SessionPolicy, Verdict};
pub use transaction::Transaction;

use crate::command::{parse_command_in, ParseContext};
use crate::framing::{Line, LineFramer};
use crate::Reply;
use content::{Content, Receiving};

/// Body bytes are handed to the owner in pieces of about this size, so a large message
/// streams to storage instead of accumulating here.
const BODY_FLUSH_THRESHOLD: usize = 64 * 1024;

/// What the owner must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Write out [`ServerSession::output`], then read and [`ServerSession::receive`] more.
    NeedInput,
    /// Write out the output (the `220 Ready to start TLS`), run the TLS handshake, then call
    /// [`ServerSession::tls_established`]. On handshake failure, drop the connection.
    StartTls,
    /// Check these credentials (AUTH, RFC 4954), then call [`ServerSession::auth_verdict`].
    Authenticate(&'a Credentials),
    /// Open storage for a message with this envelope, then call
    /// [`ServerSession::storage_ready`].
    StartMessage(&'a Transaction),
    /// Append these body bytes (unstuffed, CRLF line endings) to the open message.
    Body(&'a [u8]),
    /// The body is complete: make the message durable, then call
    /// [`ServerSession::message_stored`].
    EndMessage,
    /// Throw away the open message (it was refused after storage was opened).
    AbortMessage,
    /// Write out the output and close the connection.
    Close,
}

/// Which timeout applies while waiting for input (RFC 5321 §4.5.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Command,
    Data,
    /// The owner is busy (handshake, storage); no client timeout runs.
    Owner,
}

/// A request to the owner that carries no borrowed data, remembered until `poll` returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    StartTls,
    Authenticate,
    StartMessage,
    EndMessage,
    AbortMessage,
    Close,
}

#[derive(Debug)]
enum State {
    /// Reading commands; which are allowed depends on `helo` and `transaction`.
    ExpectCommand,
    /// Waiting for [`ServerSession::tls_established`].
    ExpectTlsHandshake,
    /// AUTH sent a challenge: the next line is the client's response, not a command.
    ExpectAuthResponse(crate::sasl::Exchange),
    /// Waiting for [`ServerSession::auth_verdict`] on these credentials.
    ExpectAuthVerdict(Credentials),
    /// Waiting for [`ServerSession::storage_ready`]; then receive this content.
    ExpectStorage(Receiving),
    /// Receiving message content (DATA lines or BDAT octets).
    Receiving(Receiving),
    /// Waiting for [`ServerSession::message_stored`].
    ExpectCommit,
    Closed,
}

/// One SMTP server session. See the module documentation for the protocol.
#[derive(Debug)]
pub struct ServerSession {
    config: SessionConfig,
    state: State,
    request: Option<Request>,
    input: Vec<u8>,
    input_start: usize,
    output: Vec<u8>,
    body: Vec<u8>,
    body_handed_out: bool,
    lines: LineFramer,
    helo: Option<String>,
    esmtp: bool,
    tls: bool,
    auth_id: Option<String>,
    transaction: Option<Transaction>,
    content: Option<Content>,
    errors: u32,
    /// The owner wrote the greeting out: input is expected from now on.
    greeted: bool,
}

impl ServerSession {
    /// A new session; the greeting is already in the output.
    pub fn new(config: SessionConfig) -> Self {
        let mut session = ServerSession {
            lines: LineFramer::new(config.max_command_line),
            tls: config.implicit_tls,
            config,
            state: State::ExpectCommand,
            request: None,
            input: Vec::new(),
            input_start: 0,
            output: Vec::new(),
            body: Vec::new(),
            body_handed_out: false,
            helo: None,
            esmtp: false,
            auth_id: None,
            transaction: None,
            content: None,
            errors: 0,
            greeted: false,
        };
        let greeting = replies::greeting(&session.config.hostname);
        session.reply(&greeting);
        session
    }

    /// A session that refuses service: `421` and close (over the session limit, throttled).
    pub fn refuse(config: SessionConfig, reply: &Reply) -> Self {
        let mut session = ServerSession::new(config);
        session.output.clear();
        session.reply(reply);
        session.close();
        session
    }

    /// Appends bytes received from the client.
    pub fn receive(&mut self, bytes: &[u8]) {
        if matches!(self.state, State::ExpectTlsHandshake | State::Closed) {
            return; // plaintext after STARTTLS is never executed
        }
        if !self.greeted && !bytes.is_empty() && self.sync_required() {
            return self.early_talker();
        }
        if self.input_start > 0 && self.input_start == self.input.len() {
            self.input.clear();
            self.input_start = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// Replies waiting to be written.
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// The owner wrote [`ServerSession::output`] out.
    pub fn clear_output(&mut self) {
        self.output.clear();
        self.greeted = true;
    }

    /// Runs the protocol as far as possible and says what the owner must do next.
    pub fn poll(&mut self, policy: &mut dyn SessionPolicy) -> Action<'_> {
        if self.body_handed_out {
            self.body.clear();
            self.body_handed_out = false;
        }
        loop {
            if let Some(request) = self.request {
                // Every body byte reaches the owner before the commit is requested.
                if request == Request::EndMessage && !self.body.is_empty() {
                    self.body_handed_out = true;
                    return Action::Body(&self.body);
                }
                if request == Request::AbortMessage {
                    self.body.clear();
                }
                self.request = None;
                return self.request_action(request);
            }
            match self.state {
                State::Closed => return Action::Close,
                State::ExpectTlsHandshake => return Action::StartTls,
                State::ExpectStorage(_) | State::ExpectCommit | State::ExpectAuthVerdict(_) => {
                    return Action::NeedInput
                }
                State::ExpectCommand => {
                    if !self.step_command(policy) {
                        return Action::NeedInput;
                    }
                }
                State::ExpectAuthResponse(_) => {
                    if !self.step_auth_response() {
                        return Action::NeedInput;
                    }
                }
                State::Receiving(_) => {
                    let progressed = self.step_content();
                    if self.request.is_some() {
                        continue;
                    }
                    if self.body.len() >= BODY_FLUSH_THRESHOLD
                        || (!progressed && !self.body.is_empty())
                    {
                        self.body_handed_out = true;
                        return Action::Body(&self.body);
                    }
                    if !progressed {
                        return Action::NeedInput;
                    }
                }
            }
        }
    }

    /// Which timeout the owner should run while it waits for input.
    pub fn phase(&self) -> Phase {
        match self.state {
            State::ExpectCommand | State::ExpectAuthResponse(_) => Phase::Command,
            State::Receiving(_) => Phase::Data,
            _ => Phase::Owner,
        }
    }

    /// The TLS handshake after STARTTLS succeeded: the session starts over (RFC 3207 §4.2).
    pub fn tls_established(&mut self) {
        self.tls = true;
        self.helo = None;
        self.esmtp = false;
        self.transaction = None;
        self.input.clear();
        self.input_start = 0;
        self.lines = LineFramer::new(self.config.max_command_line);
        self.state = State::ExpectCommand;
    }

    /// The client authenticated as `id` by other means than AUTH (a client certificate);
    /// AUTH records its identity through [`ServerSession::auth_verdict`].
    pub fn authenticated(&mut self, id: String) {
        self.auth_id = Some(id);
    }

    /// Answer to [`Action::StartMessage`]: storage is open, or why it could not be.
    pub fn storage_ready(&mut self, result: Result<(), Reply>) {
        let State::ExpectStorage(receiving) = std::mem::replace(&mut self.state, State::Closed)
        else {
            return;
        };
        if let (Ok(()), Some(content)) = (&result, self.content.as_mut()) {
            content.storing = true;
        }
        if self.sent_before_354(&receiving) {
            return;
        }
        match result {
            Ok(()) => self.enter_receiving(receiving),
            Err(reply) => self.storage_failed(receiving, reply),
        }
    }

    /// Answer to [`Action::EndMessage`]: the queue id of the stored message, or the reply
    /// explaining why it was not stored (4xx: nothing was acknowledged).
    pub fn message_stored(&mut self, result: Result<String, Reply>) {
        if !matches!(self.state, State::ExpectCommit) {
            return;
        }
        let reply = match result {
            Ok(queue_id) => replies::accepted(&queue_id),
            Err(reply) => reply,
        };
        self.finish_transaction(&reply);
    }

    /// The client was silent past the phase's timeout: `421` and close.
    pub fn timed_out(&mut self) {
        let reply = replies::timeout(&self.config.hostname);
        self.reply(&reply);
        self.close();
    }

    /// The server is stopping: `421` and close, unless a message is in flight.
    pub fn shut_down(&mut self) -> bool {
        let idle = matches!(
            self.state,
            State::ExpectCommand | State::ExpectAuthResponse(_)
        );
        if !idle || self.transaction.is_some() {
            return false;
        }
        let reply = replies::shutting_down(&self.config.hostname);
        self.reply(&reply);
        self.close();
        true
    }

    /// The name the client gave in EHLO/HELO.
    pub fn helo_name(&self) -> Option<&str> {
        self.helo.as_deref()
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    pub fn auth_id(&self) -> Option<&str> {
        self.auth_id.as_deref()
    }

    /// The `proto=` of sendmail's log and the `with` of `Received:` (RFC 3848).
    pub fn protocol(&self) -> &'static str {
        match (self.esmtp, self.tls, self.auth_id.is_some()) {
            (false, _, _) => "SMTP",
            (true, false, false) => "ESMTP",
            (true, true, false) => "ESMTPS",
            (true, false, true) => "ESMTPA",
            (true, true, true) => "ESMTPSA",
        }
    }

    /// The transaction in progress, if any.
    pub fn transaction(&self) -> Option<&Transaction> {
        self.transaction.as_ref()
    }

    fn request_action(&self, request: Request) -> Action<'_> {
        match request {
            Request::StartTls => Action::StartTls,
            Request::Authenticate => match &self.state {
                State::ExpectAuthVerdict(credentials) => Action::Authenticate(credentials),
                _ => Action::NeedInput,
            },
            Request::StartMessage => match &self.transaction {
                Some(transaction) => Action::StartMessage(transaction),
                None => Action::NeedInput,
            },
            Request::EndMessage => Action::EndMessage,
            Request::AbortMessage => Action::AbortMessage,
            Request::Close => Action::Close,
        }
    }

    /// Reads and handles one command line; false when no complete line is buffered.
    fn step_command(&mut self, policy: &mut dyn SessionPolicy) -> bool {
        let pending = &self.input[self.input_start..];
        let framed = self.lines.next_line(pending);
        let parsed = match framed.line {
            Some(Line::Complete(bytes)) => {
                let context = ParseContext {
                    smtputf8_transaction: self
                        .transaction
                        .as_ref()
                        .is_some_and(|transaction| transaction.params.smtputf8),
                };
                Some(parse_command_in(bytes, context))
            }
            Some(Line::TooLong) => None,
            None => {
                // Bytes of an over-long line may have been dropped; nothing to answer yet.
                self.input_start += framed.consumed;
                return false;
            }
        };
        self.input_start += framed.consumed;
        match parsed {
            Some(Ok(command)) => self.handle_command(command, policy),
            Some(Err(error)) => self.reply_error(&error.reply()),
            None => self.reply_error(&replies::line_too_long()),
        }
        true
    }

    fn reply(&mut self, reply: &Reply) {
        reply.write_to(&mut self.output);
    }

    /// Writes a failure reply and counts it toward the error limit.
    fn reply_error(&mut self, reply: &Reply) {
        self.reply(reply);
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            let reply = replies::too_many_errors(&self.config.hostname);
            self.reply(&reply);
            self.close();
        }
    }

    fn close(&mut self) {
        self.state = State::Closed;
        self.request = Some(Request::Close);
    }
}
