//! RFC 2920 §3.1 synchronisation points, for clients that have not authenticated.
//!
//! The session can tell exactly when a client broke them, without clocks:
//!
//! - **Before the greeting.** [`ServerSession::receive`] before the owner wrote the
//!   greeting out ([`ServerSession::clear_output`]) means the client talked first. The
//!   owner makes this observable by listening briefly before it writes the greeting
//!   (sendmail's `greet_pause`, Postfix's postscreen pregreet test).
//! - **After DATA.** The reply to DATA (354, or an error) is written only after the DATA
//!   line was handled, so any byte already buffered behind that line, or received while
//!   the owner opens storage, was sent before the client could have seen the reply. If
//!   the session went on, those bytes would become commands (DATA refused) or message
//!   content (DATA accepted) depending on timing: the root of SMTP smuggling through
//!   pipelining.
//!
//! Both get `554 5.5.0` and the connection is closed: the bytes already received cannot
//! be interpreted safely. BDAT is exempt (RFC 3030 allows pipelining chunks), and so are
//! authenticated clients and owners that turn [`super::SessionConfig::pipelining_sync`]
//! off (local submission, where a whole script arrives on stdin at once).

use super::{replies, Receiving, Request, ServerSession, State};

impl ServerSession {
    /// Whether this client is held to the synchronisation points.
    pub(super) fn sync_required(&self) -> bool {
        self.config.pipelining_sync && self.auth_id.is_none()
    }

    /// Input is buffered beyond what the session consumed.
    pub(super) fn input_pending(&self) -> bool {
        self.input_start < self.input.len()
    }

    /// The client sent input before the greeting: it never gets the greeting.
    pub(super) fn early_talker(&mut self) {
        self.output.clear();
        self.refuse_out_of_sync("before the greeting");
    }

    /// DATA was just read: true (and the session closing) when the client sent more
    /// before DATA was answered.
    pub(super) fn sent_past_data(&mut self) -> bool {
        if !self.sync_required() || !self.input_pending() {
            return false;
        }
        self.refuse_out_of_sync("after DATA before its reply");
        true
    }

    /// Storage is open for DATA: true (and the storage aborted, the session closing)
    /// when input arrived while the owner was opening it, before the 354.
    pub(super) fn sent_before_354(&mut self, receiving: &Receiving) -> bool {
        if !matches!(receiving, Receiving::Data(_)) || !self.sync_required() {
            return false;
        }
        if !self.input_pending() {
            return false;
        }
        self.refuse_out_of_sync("after DATA before its reply");
        true
    }

    /// `554 5.5.0`, the transaction (and any open storage) dropped, then close.
    fn refuse_out_of_sync(&mut self, when: &str) {
        self.reply(&replies::out_of_sync(when));
        self.reset_transaction();
        self.input.clear();
        self.input_start = 0;
        self.state = State::Closed;
        if self.request.is_none() {
            self.request = Some(Request::Close);
        }
    }
}
