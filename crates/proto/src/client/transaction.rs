//! One outgoing mail transaction: the envelope, the MAIL/RCPT command lines with the
//! parameters the peer can take, the local refusals, and the per-recipient outcome.
//!
//! Parameters are sent only for extensions the peer offered: `SIZE=` with SIZE,
//! `BODY=8BITMIME` with 8BITMIME, `SMTPUTF8` (which the peer must offer, see below),
//! and `RET`, `ENVID`, `NOTIFY`, `ORCPT` (xtext-encoded) only with DSN. A DSN request
//! the next hop cannot carry is dropped, as RFC 3461 §4 allows for a relay that then
//! reports "relayed" itself. `AUTH=` is never sent: the client does not authenticate.

use super::{replies, Capabilities};
use crate::params::{BodyType, Notify, Ret};
use crate::{xtext, ForwardPath, MailParams, RcptParams, Reply, ReversePath};

/// What to send: the envelope as the original transaction carried it, and the body size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEnvelope {
    pub sender: ReversePath,
    /// The parameters the ORIGINAL transaction carried (the session picks what to pass on).
    pub params: MailParams,
    pub recipients: Vec<(ForwardPath, RcptParams)>,
    /// The body size in octets, as it will be sent (before dot-stuffing).
    pub size: u64,
}

/// The replies of one finished transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionResult {
    /// The reply to MAIL, or the reply made up for a message refused locally.
    pub mail: Reply,
    /// One per envelope recipient, in order; `None` = never answered (not sent).
    pub recipients: Vec<Option<Reply>>,
    /// The reply to DATA, if DATA was sent.
    pub data: Option<Reply>,
    /// The reply after the end of the data, if the body was sent.
    pub final_reply: Option<Reply>,
}

/// What became of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientOutcome {
    Delivered(Reply),
    /// Try again later (4xx).
    Deferred(Reply),
    /// Bounce (5xx).
    Failed(Reply),
}

impl TransactionResult {
    /// The outcome for envelope recipient `index`: MAIL's reply if MAIL failed, else the
    /// recipient's RCPT reply if that failed, else the reply to the end of the data (or
    /// to DATA, if DATA was refused). A recipient never answered, or an index past the
    /// envelope, is Deferred: nothing is ever dropped for lack of a reply.
    pub fn outcome(&self, index: usize) -> RecipientOutcome {
        if !is_success(&self.mail) {
            return classify(&self.mail);
        }
        let Some(Some(rcpt)) = self.recipients.get(index) else {
            return RecipientOutcome::Deferred(replies::no_reply());
        };
        if !is_success(rcpt) {
            return classify(rcpt);
        }
        match (&self.data, &self.final_reply) {
            (_, Some(final_reply)) => classify(final_reply),
            (Some(data), None) if data.code != 354 => classify(data),
            _ => RecipientOutcome::Deferred(replies::no_reply()),
        }
    }

    /// A result for a message refused before anything was sent.
    pub(crate) fn refused_locally(reply: Reply, recipients: usize) -> Self {
        TransactionResult {
            mail: reply,
            recipients: vec![None; recipients],
            data: None,
            final_reply: None,
        }
    }
}

fn is_success(reply: &Reply) -> bool {
    reply.code / 100 == 2
}

/// 2xx delivered, 5xx failed, anything else deferred (so an odd code never loses mail).
fn classify(reply: &Reply) -> RecipientOutcome {
    match reply.code / 100 {
        2 => RecipientOutcome::Delivered(reply.clone()),
        5 => RecipientOutcome::Failed(reply.clone()),
        _ => RecipientOutcome::Deferred(reply.clone()),
    }
}

/// Why this peer cannot take this message, before anything is sent.
pub(crate) fn local_refusal(envelope: &OutgoingEnvelope, peer: &Capabilities) -> Option<Reply> {
    if envelope.recipients.is_empty() {
        return Some(replies::no_recipients());
    }
    if peer
        .size
        .is_some_and(|limit| limit > 0 && limit < envelope.size)
    {
        return Some(replies::size_exceeds_remote_limit());
    }
    if needs_smtputf8(envelope) && !peer.smtputf8 {
        return Some(replies::smtputf8_not_supported());
    }
    let eight_bit = matches!(
        envelope.params.body,
        Some(BodyType::EightBitMime | BodyType::BinaryMime)
    );
    if eight_bit && !peer.eightbitmime {
        return Some(replies::conversion_not_supported());
    }
    None
}

/// The original carried SMTPUTF8, or an address is not ASCII.
fn needs_smtputf8(envelope: &OutgoingEnvelope) -> bool {
    let sender_utf8 = match &envelope.sender {
        ReversePath::Null => false,
        ReversePath::Mailbox(mailbox) => !mailbox.is_ascii(),
    };
    let recipient_utf8 = envelope.recipients.iter().any(|(path, _)| match path {
        ForwardPath::Postmaster => false,
        ForwardPath::Mailbox(mailbox) => !mailbox.is_ascii(),
    });
    envelope.params.smtputf8 || sender_utf8 || recipient_utf8
}

/// `MAIL FROM:<sender> [params]` CRLF, for a message that passed [`local_refusal`].
pub(crate) fn mail_command(envelope: &OutgoingEnvelope, peer: &Capabilities) -> String {
    let params = &envelope.params;
    let mut line = format!("MAIL FROM:<{}>", envelope.sender);
    if peer.size.is_some() {
        line.push_str(&format!(" SIZE={}", envelope.size));
    }
    // BINARYMIME content is sent with DATA after line-ending normalisation: 8-bit text.
    let eight_bit = matches!(
        params.body,
        Some(BodyType::EightBitMime | BodyType::BinaryMime)
    );
    if eight_bit && peer.eightbitmime {
        line.push_str(" BODY=8BITMIME");
    }
    if needs_smtputf8(envelope) && peer.smtputf8 {
        line.push_str(" SMTPUTF8");
    }
    if peer.dsn {
        if let Some(ret) = params.ret {
            line.push_str(match ret {
                Ret::Full => " RET=FULL",
                Ret::Headers => " RET=HDRS",
            });
        }
        if let Some(envid) = &params.envid {
            line.push_str(&format!(" ENVID={}", xtext::encode(envid)));
        }
    }
    line.push_str("\r\n");
    line
}

/// `RCPT TO:<recipient> [params]` CRLF.
pub(crate) fn rcpt_command(to: &ForwardPath, params: &RcptParams, peer: &Capabilities) -> String {
    let mut line = format!("RCPT TO:<{to}>");
    if peer.dsn {
        if let Some(notify) = params.notify.as_ref().and_then(notify_value) {
            line.push_str(&format!(" NOTIFY={notify}"));
        }
        if let Some(orcpt) = &params.orcpt {
            let address = xtext::encode(&orcpt.address);
            line.push_str(&format!(" ORCPT={};{address}", orcpt.addr_type));
        }
    }
    line.push_str("\r\n");
    line
}

/// `NEVER` or a comma list; `None` when nothing is set.
fn notify_value(notify: &Notify) -> Option<String> {
    if notify.never {
        return Some("NEVER".to_owned());
    }
    let flags = [
        (notify.success, "SUCCESS"),
        (notify.failure, "FAILURE"),
        (notify.delay, "DELAY"),
    ];
    let names: Vec<&str> = flags
        .iter()
        .filter(|(set, _)| *set)
        .map(|(_, name)| *name)
        .collect();
    (!names.is_empty()).then(|| names.join(","))
}

/// A transaction under way: its command lines and the replies collected so far.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub(crate) pipelined: bool,
    pub(crate) mail_line: String,
    pub(crate) rcpt_lines: Vec<String>,
    pub(crate) mail: Option<Reply>,
    pub(crate) recipients: Vec<Option<Reply>>,
    pub(crate) data: Option<Reply>,
}

impl InFlight {
    pub(crate) fn new(envelope: &OutgoingEnvelope, peer: &Capabilities) -> Self {
        let rcpt_lines = envelope
            .recipients
            .iter()
            .map(|(to, params)| rcpt_command(to, params, peer))
            .collect();
        InFlight {
            pipelined: peer.pipelining,
            mail_line: mail_command(envelope, peer),
            rcpt_lines,
            mail: None,
            recipients: vec![None; envelope.recipients.len()],
            data: None,
        }
    }

    /// MAIL and at least one RCPT were accepted, so there is someone to send the body to.
    pub(crate) fn has_accepted_recipient(&self) -> bool {
        self.mail.as_ref().is_some_and(is_success)
            && self.recipients.iter().flatten().any(is_success)
    }

    /// The result, once MAIL has been answered.
    pub(crate) fn into_result(self, final_reply: Option<Reply>) -> Option<TransactionResult> {
        Some(TransactionResult {
            mail: self.mail?,
            recipients: self.recipients,
            data: self.data,
            final_reply,
        })
    }
}
