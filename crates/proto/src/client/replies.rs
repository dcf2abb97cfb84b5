//! The replies the client makes up itself, in one place: a message refused before any
//! command is sent reports a reply just as if the server had given it, so the owner
//! logs and bounces it the same way (`dsn=5.3.4, stat=...`).

use crate::{EnhancedStatus as S, Reply};

/// RFC 1870 §6.1: the peer's announced SIZE is below the message.
pub(crate) fn size_exceeds_remote_limit() -> Reply {
    Reply::new(552, S::new(5, 3, 4), "Message size exceeds remote limit")
}

/// RFC 6531 §3.2: an SMTPUTF8 message cannot go to a peer without SMTPUTF8.
pub(crate) fn smtputf8_not_supported() -> Reply {
    Reply::new(
        553,
        S::new(5, 6, 7),
        "Remote server does not support SMTPUTF8",
    )
}

/// RFC 6152 §3: 8-bit content to a 7-bit peer would need conversion, which we do not do.
pub(crate) fn conversion_not_supported() -> Reply {
    Reply::new(
        554,
        S::new(5, 6, 3),
        "Conversion required but not supported",
    )
}

/// An envelope without recipients has nowhere to go.
pub(crate) fn no_recipients() -> Reply {
    Reply::new(554, S::new(5, 5, 1), "No recipients given")
}

/// Stands in for a reply that never came (only for a recipient the caller asks about
/// that the session never got an answer for); temporary, so nothing is lost.
pub(crate) fn no_reply() -> Reply {
    Reply::new(451, S::new(4, 4, 2), "No reply from the remote server")
}
