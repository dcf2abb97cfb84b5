//! AUTH (RFC 4954) with PLAIN and LOGIN: when it is allowed, the challenge/response
//! exchange, and the owner's verdict.
//!
//! AUTH is accepted only over TLS: both mechanisms send the password in the clear. The
//! session decodes the credentials (`crate::sasl`) and hands them to the owner with
//! [`Action::Authenticate`](super::Action::Authenticate); checking them (password file,
//! Dovecot) is I/O, so it never happens here. While a challenge is outstanding the next
//! line is the client's response, never a command, and that one line may be up to
//! 12288 octets (RFC 4954 §4); the command line limit comes back as soon as it is read.

use super::{replies, Request, ServerSession, State};
use crate::framing::Line;
use crate::sasl::{Credentials, Exchange, Mechanism, Progress, SaslError};
use crate::Reply;

/// RFC 4954 §4: a client response line may be up to 12288 octets (CRLF included).
const MAX_RESPONSE_LINE: usize = 12_288;

/// The owner's answer to [`Action::Authenticate`](super::Action::Authenticate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVerdict {
    /// The credentials are valid; the client is now `identity` (`235`).
    Accepted { identity: String },
    /// Wrong user or password (`535`, counted toward the error limit).
    Rejected,
    /// The verifier could not decide, e.g. Dovecot is unreachable (`454`).
    Temporary,
    /// Too many failures from this client: `421` and close.
    Throttled,
}

impl ServerSession {
    pub(super) fn on_auth(&mut self, mechanism: &str, initial_response: Option<&str>) {
        match self.auth_mechanism(mechanism) {
            Ok(mechanism) => {
                let progress = Exchange::start(mechanism, initial_response);
                self.advance_auth(progress);
            }
            Err(reply) => self.reply_error(&reply),
        }
    }

    /// Answer to [`Action::Authenticate`](super::Action::Authenticate).
    pub fn auth_verdict(&mut self, verdict: AuthVerdict) {
        if !matches!(self.state, State::ExpectAuthVerdict(_)) {
            return;
        }
        // Dropping the state drops the password: nothing keeps it past the verdict.
        self.state = State::ExpectCommand;
        match verdict {
            AuthVerdict::Accepted { identity } => {
                self.auth_id = Some(identity);
                self.reply(&replies::auth_succeeded());
            }
            AuthVerdict::Rejected => self.reply_error(&replies::auth_failed()),
            AuthVerdict::Temporary => self.reply(&replies::auth_temporary_failure()),
            AuthVerdict::Throttled => {
                let reply = replies::auth_throttled(&self.config.hostname);
                self.reply(&reply);
                self.close();
            }
        }
    }

    /// Reads the client's response to the outstanding challenge; false when no complete
    /// line is buffered.
    pub(super) fn step_auth_response(&mut self) -> bool {
        let State::ExpectAuthResponse(exchange) =
            std::mem::replace(&mut self.state, State::ExpectCommand)
        else {
            return false;
        };
        let framed = self.lines.next_line(&self.input[self.input_start..]);
        let progress = match framed.line {
            Some(Line::Complete(response)) => Some(exchange.respond(response)),
            Some(Line::TooLong) => None,
            None => {
                self.input_start += framed.consumed;
                self.state = State::ExpectAuthResponse(exchange);
                return false;
            }
        };
        self.input_start += framed.consumed;
        match progress {
            Some(progress) => self.advance_auth(progress),
            None => {
                self.restore_command_line_limit();
                self.reply_error(&replies::line_too_long());
            }
        }
        true
    }

    /// The mechanism the client may use now, or why AUTH is refused.
    fn auth_mechanism(&self, name: &str) -> Result<Mechanism, Reply> {
        let offered = &self.config.extensions.auth_mechanisms;
        if offered.is_empty() {
            return Err(replies::auth_not_available());
        }
        if !self.tls {
            return Err(replies::auth_needs_tls());
        }
        if self.auth_id.is_some() {
            return Err(replies::already_authenticated());
        }
        if !self.esmtp {
            return Err(replies::auth_needs_ehlo());
        }
        if self.transaction.is_some() {
            return Err(replies::auth_in_transaction());
        }
        offered
            .iter()
            .find(|offered| offered.eq_ignore_ascii_case(name))
            .and_then(|offered| Mechanism::from_name(offered))
            .ok_or_else(replies::unknown_mechanism)
    }

    fn advance_auth(&mut self, progress: Result<Progress, SaslError>) {
        match progress {
            Ok(Progress::Challenge(exchange, challenge)) => {
                self.lines.set_max_len(MAX_RESPONSE_LINE);
                self.state = State::ExpectAuthResponse(exchange);
                self.reply(&replies::auth_challenge(challenge));
            }
            Ok(Progress::Complete(credentials)) => {
                self.restore_command_line_limit();
                self.ask_for_verdict(credentials);
            }
            Err(error) => {
                self.restore_command_line_limit();
                self.reply_error(&sasl_failure(&error));
            }
        }
    }

    fn ask_for_verdict(&mut self, credentials: Credentials) {
        // No proxy authorization: acting as someone else is refused whatever the password.
        if credentials.requests_proxy() {
            return self.reply_error(&replies::auth_failed());
        }
        self.state = State::ExpectAuthVerdict(credentials);
        self.request = Some(Request::Authenticate);
    }

    fn restore_command_line_limit(&mut self) {
        self.lines.set_max_len(self.config.max_command_line);
    }
}

fn sasl_failure(error: &SaslError) -> Reply {
    match error {
        SaslError::Cancelled => replies::auth_cancelled(),
        SaslError::Base64 | SaslError::Malformed | SaslError::InvalidUtf8 => {
            replies::auth_undecodable()
        }
    }
}
