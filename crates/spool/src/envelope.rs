//! What the spool stores about a message besides its body: the SMTP envelope as
//! received, who sent it, and each recipient's delivery state.

use std::net::IpAddr;
use std::time::SystemTime;

use posthorn_proto::{ForwardPath, MailParams, RcptParams, ReversePath};

use crate::id::QueueId;

/// The envelope of one message, as accepted from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub sender: ReversePath,
    /// SIZE/BODY/SMTPUTF8/RET/ENVID/AUTH as received on `MAIL FROM`.
    pub params: MailParams,
    pub recipients: Vec<Recipient>,
    pub client: ClientInfo,
    pub received_at: SystemTime,
}

/// One `RCPT TO` and where its delivery stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: ForwardPath,
    pub params: RcptParams,
    pub state: RecipientState,
}

impl Recipient {
    /// A recipient not yet tried.
    pub fn new(address: ForwardPath, params: RcptParams) -> Self {
        Recipient {
            address,
            params,
            state: RecipientState::default(),
        }
    }
}

/// Where delivery to one recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RecipientStatus {
    /// Not tried yet.
    #[default]
    Pending,
    /// Tried, failed temporarily, will be retried.
    Deferred,
    Delivered,
    /// Failed permanently (or gave up); a DSN is due.
    Failed,
}

/// The delivery state of one recipient, replaced as a whole on every update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecipientState {
    pub status: RecipientStatus,
    pub attempts: u32,
    /// The last reply or local reason, e.g. `451 4.3.0 try later`. Stored up to
    /// [`MAX_REPLY_LEN`](crate::MAX_REPLY_LEN) bytes; longer text is cut on a
    /// character boundary.
    pub last_reply: Option<String>,
    pub next_attempt: Option<SystemTime>,
}

/// Who handed the message to us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub helo: String,
    /// `None` for local submission.
    pub address: Option<IpAddr>,
    /// Reverse DNS name when known.
    pub hostname: Option<String>,
    /// `ESMTP`, `ESMTPS`, `ESMTPSA`, `SMTP`, `local`, ...
    pub protocol: String,
    pub auth_id: Option<String>,
    pub tls_version: Option<String>,
}

/// A committed message as read back from the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub id: QueueId,
    /// The envelope with every recipient update applied.
    pub envelope: Envelope,
    /// Body size in bytes.
    pub size: u64,
    /// Held messages stay queued but are not delivered until released.
    pub held: bool,
    /// The sender has already been sent a delayed-delivery DSN (so it is sent once).
    pub delay_notified: bool,
}
