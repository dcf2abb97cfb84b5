//! The session's policy checks for one client, answered by the relay policy and the
//! access map (and, at `MAIL`, the client's `TLS_Clt:` requirement against the
//! session's TLS), with sendmail-style log lines for every refusal. `MAIL` is also
//! where a spool short of space turns new mail away (`spool_space.rs`).

use std::net::IpAddr;
use std::path::Path;

use posthorn_policy::{Client, Decision, RelayPolicy, TlsRequirement};
use posthorn_proto::session::{SessionPolicy, Verdict};
use posthorn_proto::{EnhancedStatus, ForwardPath, MailParams, RcptParams, Reply, ReversePath};

use crate::inbound_tls::{check_client_tls, InboundTls};
use crate::spool_space;

pub(crate) struct ClientPolicy<'a> {
    pub(crate) relay: &'a RelayPolicy,
    pub(crate) ip: IpAddr,
    pub(crate) hostname: Option<&'a str>,
    pub(crate) authenticated: bool,
    /// Who the client authenticated as, when it did.
    pub(crate) identity: Option<&'a str>,
    /// `auth.sender_must_match`: an authenticated user sends only as itself.
    pub(crate) sender_must_match: bool,
    /// Our host name: a user name without a domain owns `user@hostname`.
    pub(crate) our_hostname: &'a str,
    /// Decided at connect: relay.networks or `Connect:... RELAY`.
    pub(crate) may_relay: bool,
    /// `relay=` of the log lines.
    pub(crate) relay_label: &'a str,
    /// The client's `TLS_Clt:` entry, if any.
    pub(crate) tls_requirement: Option<&'a TlsRequirement>,
    /// What the session's TLS established; `None` in plaintext.
    pub(crate) tls: Option<&'a InboundTls>,
    /// The spool directory, whose free space is checked at `MAIL`...
    pub(crate) spool: &'a Path,
    /// ...against `limits.message_size`.
    pub(crate) message_size: u64,
}

impl ClientPolicy<'_> {
    fn client(&self) -> Client<'_> {
        Client {
            ip: self.ip,
            hostname: self.hostname,
            authenticated: self.authenticated,
        }
    }

    fn verdict(&self, ruleset: &str, argument: String, decision: Decision) -> Verdict {
        match decision {
            Decision::Accept => Verdict::Accept,
            Decision::Discard => {
                tracing::info!(target: "posthorn::mail", ruleset, arg1 = %argument, relay = %self.relay_label, discard = "");
                Verdict::Discard
            }
            Decision::Reject(reply) => {
                tracing::info!(target: "posthorn::mail", ruleset, arg1 = %argument, relay = %self.relay_label, reject = %reply);
                Verdict::Reject(reply)
            }
        }
    }
}

impl ClientPolicy<'_> {
    /// sendmail's `tls_client` ruleset at `MAIL`: the `TLS_Clt:` requirement.
    fn check_tls(&self) -> Option<Verdict> {
        let requirement = self.tls_requirement?;
        let unmet = check_client_tls(requirement, self.tls).err()?;
        let reply = unmet.reply(requirement.failure);
        let verify = self.tls.map_or("NONE", |tls| tls.verify.as_str());
        tracing::info!(target: "posthorn::mail", ruleset = "tls_client", arg1 = verify, relay = %self.relay_label, reject = %reply, reason = %format_args!("\"{unmet}\""));
        Some(Verdict::Reject(reply))
    }
}

impl ClientPolicy<'_> {
    /// An authenticated user may only send as one of its own addresses (SPEC §1,
    /// `auth.sender_must_match`; Postfix's `reject_sender_login_mismatch`).
    fn check_ownership(&self, from: &ReversePath) -> Option<Verdict> {
        let identity = self.identity.filter(|_| self.sender_must_match)?;
        if sender_owned_by(from, identity, self.our_hostname) {
            return None;
        }
        let reply = Reply::new(
            553,
            EnhancedStatus::new(5, 7, 1),
            format!("<{from}>... Sender address not owned by user {identity}"),
        );
        tracing::info!(target: "posthorn::mail", ruleset = "check_mail", arg1 = %format_args!("<{from}>"), relay = %self.relay_label, reject = %reply);
        Some(Verdict::Reject(reply))
    }
}

/// Whether `identity` owns the sender: the identity itself when it is an address, else
/// `identity@hostname` (domains compared without case).
fn sender_owned_by(from: &ReversePath, identity: &str, hostname: &str) -> bool {
    let ReversePath::Mailbox(mailbox) = from else {
        return false;
    };
    let owned = if identity.contains('@') {
        identity.to_owned()
    } else {
        format!("{identity}@{hostname}")
    };
    let Some((local, domain)) = owned.rsplit_once('@') else {
        return false;
    };
    mailbox.local_part == local && mailbox.domain.lookup_key() == domain.to_ascii_lowercase()
}

impl SessionPolicy for ClientPolicy<'_> {
    fn check_sender(&mut self, from: &ReversePath, _: &MailParams) -> Verdict {
        if let Some(reply) = spool_space::refusal(self.spool, self.message_size) {
            tracing::info!(target: "posthorn::mail", ruleset = "check_mail", arg1 = %format_args!("<{from}>"), relay = %self.relay_label, reject = %reply);
            return Verdict::Reject(reply);
        }
        if let Some(refused) = self.check_tls() {
            return refused;
        }
        if let Some(refused) = self.check_ownership(from) {
            return refused;
        }
        let decision = self.relay.check_sender(&self.client(), from);
        self.verdict("check_mail", format!("<{from}>"), decision)
    }

    fn check_recipient(&mut self, to: &ForwardPath, _: &RcptParams) -> Verdict {
        let may_relay = self.may_relay || self.authenticated;
        let decision = self.relay.check_recipient(&self.client(), may_relay, to);
        self.verdict("check_rcpt", format!("<{to}>"), decision)
    }
}

#[cfg(test)]
mod tests {
    use super::sender_owned_by;
    use posthorn_proto::{Domain, Mailbox, ReversePath};

    fn sender(local: &str, domain: &str) -> ReversePath {
        ReversePath::Mailbox(Mailbox {
            local_part: local.to_owned(),
            domain: Domain::Name(domain.to_owned()),
        })
    }

    #[test]
    fn users_own_their_address_or_user_at_hostname() {
        let cases = [
            (sender("alice", "example.org"), "alice@example.org", true),
            (sender("alice", "EXAMPLE.org"), "alice@example.org", true),
            (sender("bob", "example.org"), "alice@example.org", false),
            (sender("alice", "mx.example.org"), "alice", true),
            (sender("alice", "other.example"), "alice", false),
            (ReversePath::Null, "alice", false),
        ];
        for (from, identity, owned) in cases {
            assert_eq!(
                sender_owned_by(&from, identity, "mx.example.org"),
                owned,
                "{from} as {identity}"
            );
        }
    }
}
