//! One handler per SMTP command (RFC 5321 §4.1.1), run in the `ExpectCommand` state.

use super::content::{Content, Receiving};
use super::{replies, Request, ServerSession, SessionPolicy, State, Transaction, Verdict};
use crate::command::Command;
use crate::framing::{DataReceiver, LineEndingNormalizer};
use crate::{BodyType, ForwardPath, MailParams, RcptParams, Reply, ReversePath};

impl ServerSession {
    pub(super) fn handle_command(&mut self, command: Command, policy: &mut dyn SessionPolicy) {
        match command {
            Command::Ehlo(name) => self.on_hello(name, true),
            Command::Helo(name) => self.on_hello(name, false),
            Command::Mail { from, params } => self.on_mail(from, params, policy),
            Command::Rcpt { to, params } => self.on_rcpt(to, params, policy),
            Command::Data => self.on_data(),
            Command::Bdat { size, last } => self.on_bdat(size, last),
            Command::Rset => {
                self.reset_transaction();
                self.reply(&replies::ok());
            }
            Command::Noop => self.reply(&replies::ok()),
            Command::Help(_) => self.reply(&replies::help()),
            Command::Vrfy(_) => self.reply(&replies::cannot_vrfy()),
            Command::Expn(_) => self.reply_error(&replies::expn_disabled()),
            Command::Quit => {
                let reply = replies::closing(&self.config.hostname);
                self.reset_transaction();
                self.reply(&reply);
                self.state = State::Closed;
                if self.request.is_none() {
                    self.request = Some(Request::Close);
                }
            }
            Command::StartTls => self.on_starttls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.on_auth(&mechanism, initial_response.as_deref()),
        }
    }

    fn on_hello(&mut self, name: String, esmtp: bool) {
        self.reset_transaction();
        self.helo = Some(name);
        self.esmtp = esmtp;
        let client = self.helo.as_deref().unwrap_or_default();
        let mut reply = replies::helo(&self.config.hostname, client);
        if esmtp {
            reply
                .lines
                .extend(self.ehlo_keywords().into_iter().map(Into::into));
        }
        self.reply(&reply);
    }

    /// The EHLO keywords (RFC 5321 §4.1.1.1) this session offers right now.
    fn ehlo_keywords(&self) -> Vec<String> {
        let extensions = &self.config.extensions;
        let mut keywords = Vec::with_capacity(12);
        if extensions.pipelining {
            keywords.push("PIPELINING".to_owned());
        }
        keywords.push(format!("SIZE {}", self.config.max_message_size));
        if extensions.eightbitmime {
            keywords.push("8BITMIME".to_owned());
        }
        keywords.push("ENHANCEDSTATUSCODES".to_owned());
        if extensions.smtputf8 {
            keywords.push("SMTPUTF8".to_owned());
        }
        if extensions.dsn {
            keywords.push("DSN".to_owned());
        }
        if extensions.chunking {
            keywords.push("CHUNKING".to_owned());
            keywords.push("BINARYMIME".to_owned());
        }
        if extensions.starttls && !self.tls {
            keywords.push("STARTTLS".to_owned());
        }
        if self.tls && !extensions.auth_mechanisms.is_empty() && self.auth_id.is_none() {
            keywords.push(format!("AUTH {}", extensions.auth_mechanisms.join(" ")));
        }
        keywords.push("HELP".to_owned());
        keywords
    }

    fn on_starttls(&mut self) {
        if self.tls {
            return self.reply_error(&replies::tls_already_active());
        }
        if !self.config.extensions.starttls {
            return self.reply_error(&replies::tls_not_available());
        }
        if self.helo.is_none() {
            return self.reply_error(&replies::tls_needs_helo());
        }
        if self.transaction.is_some() {
            return self.reply_error(&replies::tls_in_transaction());
        }
        self.reply(&replies::ready_for_tls());
        // Anything pipelined after STARTTLS was sent in plaintext: never execute it.
        self.input.clear();
        self.input_start = 0;
        self.state = State::ExpectTlsHandshake;
        self.request = Some(Request::StartTls);
    }

    fn on_mail(&mut self, from: ReversePath, params: MailParams, policy: &mut dyn SessionPolicy) {
        if self.helo.is_none() {
            return self.reply_error(&replies::need_helo());
        }
        if self.transaction.is_some() {
            return self.reply_error(&replies::sender_already_given());
        }
        if self.config.auth_required && self.auth_id.is_none() {
            return self.reply_error(&replies::auth_required());
        }
        if let Some(reply) = self.check_mail_params(&params) {
            return self.reply_error(&reply);
        }
        if params
            .size
            .is_some_and(|size| size > self.config.max_message_size)
        {
            return self.reply(&replies::message_too_big());
        }
        let discard_all = match policy.check_sender(&from, &params) {
            Verdict::Accept => false,
            Verdict::Discard => true,
            Verdict::Reject(reply) => return self.reply_refusal(&reply),
        };
        let reply = replies::sender_ok(&from.to_string());
        self.transaction = Some(Transaction::new(from, params, discard_all));
        self.reply(&reply);
    }

    /// Parameters the client may not use here (RFC 5321 §4.1.1.11: only after EHLO, and
    /// only for extensions we offered).
    fn check_mail_params(&self, params: &MailParams) -> Option<Reply> {
        let extensions = &self.config.extensions;
        if !self.esmtp && *params != MailParams::default() {
            return Some(replies::not_esmtp());
        }
        if params.smtputf8 && !extensions.smtputf8 {
            return Some(replies::parameter_not_offered("SMTPUTF8"));
        }
        if (params.ret.is_some() || params.envid.is_some()) && !extensions.dsn {
            return Some(replies::parameter_not_offered("DSN"));
        }
        if params.body == Some(BodyType::BinaryMime) && !extensions.chunking {
            return Some(replies::parameter_not_offered("BINARYMIME"));
        }
        None
    }

    fn on_rcpt(&mut self, to: ForwardPath, params: RcptParams, policy: &mut dyn SessionPolicy) {
        let Some(transaction) = self.transaction.as_ref() else {
            return self.reply_error(&replies::need_mail());
        };
        if self.content.is_some() {
            return self.reply_error(&replies::recipients_after_bdat());
        }
        if params != RcptParams::default() && (!self.esmtp || !self.config.extensions.dsn) {
            return self.reply_error(&replies::parameter_not_offered("DSN"));
        }
        if transaction.recipients.len() >= self.config.max_recipients {
            return self.reply(&replies::too_many_recipients());
        }
        let verdict = policy.check_recipient(&to, &params);
        let reply = replies::recipient_ok(&to.to_string());
        let Some(transaction) = self.transaction.as_mut() else {
            return;
        };
        match verdict {
            Verdict::Accept => transaction.recipients.push((to, params)),
            Verdict::Discard => transaction.discarded_recipients += 1,
            Verdict::Reject(reply) => return self.reply_refusal(&reply),
        }
        self.reply(&reply);
    }

    fn on_data(&mut self) {
        if self.sent_past_data() {
            return;
        }
        let Some(transaction) = self.transaction.as_ref() else {
            return self.reply_error(&replies::need_mail_before_data());
        };
        if self.content.is_some() {
            return self.reply_error(&replies::data_during_bdat());
        }
        if !transaction.accepted_any() {
            return self.reply_error(&replies::need_rcpt());
        }
        if transaction.params.body == Some(BodyType::BinaryMime) {
            return self.reply_error(&replies::binarymime_needs_bdat());
        }
        let keep = transaction.is_kept();
        self.content = Some(Content::new(keep, None));
        let receiving = Receiving::Data(DataReceiver::new(self.config.max_text_line));
        self.open_content(keep, receiving);
    }

    fn on_bdat(&mut self, size: u64, last: bool) {
        let failure = match self.transaction.as_ref() {
            None => Some(replies::need_mail_before_data()),
            Some(transaction) if !transaction.accepted_any() => Some(replies::need_rcpt()),
            Some(_) => None,
        };
        let receiving = Receiving::Chunk {
            size,
            remaining: size,
            last,
            failure: failure.clone(),
        };
        let first_chunk = self.content.is_none();
        match (failure, self.transaction.as_ref()) {
            (None, Some(transaction)) if first_chunk => {
                let keep = transaction.is_kept();
                let normalizer = (transaction.params.body != Some(BodyType::BinaryMime))
                    .then(LineEndingNormalizer::new);
                self.content = Some(Content::new(keep, normalizer));
                self.open_content(keep, receiving);
            }
            _ => self.state = State::Receiving(receiving),
        }
    }

    /// Asks the owner for storage when the message is kept; a discarded one needs none.
    fn open_content(&mut self, keep: bool, receiving: Receiving) {
        if keep {
            self.state = State::ExpectStorage(receiving);
            self.request = Some(Request::StartMessage);
        } else {
            self.enter_receiving(receiving);
        }
    }

    /// A policy refusal: 5xx counts toward the error limit, 4xx does not.
    fn reply_refusal(&mut self, reply: &Reply) {
        if reply.is_permanent() {
            self.reply_error(reply);
        } else {
            self.reply(reply);
        }
    }
}
