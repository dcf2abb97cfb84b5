//! Decisions the session asks of its owner (relay control, access map): kept out of the
//! state machine so it stays free of configuration and I/O.

use crate::{ForwardPath, MailParams, RcptParams, Reply, ReversePath};

/// The answer to a sender or recipient check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Accept on the wire, then drop (sendmail's `DISCARD`).
    Discard,
    Reject(Reply),
}

/// Policy checks the session runs as commands arrive. Implementations must be quick and
/// must not block: they run inside the protocol step.
pub trait SessionPolicy {
    fn check_sender(&mut self, from: &ReversePath, params: &MailParams) -> Verdict;
    fn check_recipient(&mut self, to: &ForwardPath, params: &RcptParams) -> Verdict;
}

/// Accepts everything: for tests and local submission.
#[derive(Debug, Default, Clone, Copy)]
pub struct AcceptAll;

impl SessionPolicy for AcceptAll {
    fn check_sender(&mut self, _: &ReversePath, _: &MailParams) -> Verdict {
        Verdict::Accept
    }
    fn check_recipient(&mut self, _: &ForwardPath, _: &RcptParams) -> Verdict {
        Verdict::Accept
    }
}
