//! One mail transaction: MAIL, its RCPTs, and what is known about its content.

use crate::{ForwardPath, MailParams, RcptParams, ReversePath};

/// The envelope being built by MAIL and RCPT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub sender: ReversePath,
    pub params: MailParams,
    pub recipients: Vec<(ForwardPath, RcptParams)>,
    /// The sender was accepted with `DISCARD`: the message is taken and dropped.
    pub discard_all: bool,
    /// Recipients accepted with `DISCARD` (answered 250, not kept).
    pub discarded_recipients: usize,
}

impl Transaction {
    pub(crate) fn new(sender: ReversePath, params: MailParams, discard_all: bool) -> Self {
        Transaction {
            sender,
            params,
            recipients: Vec::new(),
            discard_all,
            discarded_recipients: 0,
        }
    }

    /// Whether the content must be stored: some recipient was kept and nothing discards it all.
    pub fn is_kept(&self) -> bool {
        !self.discard_all && !self.recipients.is_empty()
    }

    pub(crate) fn accepted_any(&self) -> bool {
        !self.recipients.is_empty() || self.discarded_recipients > 0
    }
}
