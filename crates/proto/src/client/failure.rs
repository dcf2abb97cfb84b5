//! Why a client session ended without a QUIT: the connection is unusable and the
//! owner closes it, then tries the next host or defers what is unfinished.

use std::fmt;

use thiserror::Error;

use super::ClientPhase;
use crate::Reply;

/// How the session failed, split by what the owner does about it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FailureReason {
    /// The greeting was not `220`: the server does not want mail now (try the next MX).
    #[error("greeting refused")]
    GreetingRefused,
    /// Both EHLO and HELO were refused (or EHLO got a 4xx).
    #[error("EHLO/HELO refused")]
    HelloRefused,
    /// `421`: the server is closing the connection (RFC 5321 §3.8).
    #[error("service closing")]
    ServiceClosing,
    /// The server broke the protocol: a reply that does not parse, a reply nobody asked
    /// for, or a reply code that makes no sense for the command.
    #[error("protocol error: {0}")]
    ProtocolError(String),
}

/// A failed session: where it failed, the reply that ended it (if one did) and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct SessionFailure {
    pub phase: ClientPhase,
    pub reply: Option<Reply>,
    pub reason: FailureReason,
}

impl fmt::Display for SessionFailure {
    /// `protocol error: ... in Rcpt (550 5.1.1 ...)`, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {:?}", self.reason, self.phase)?;
        if let Some(reply) = &self.reply {
            write!(f, " ({reply})")?;
        }
        Ok(())
    }
}
