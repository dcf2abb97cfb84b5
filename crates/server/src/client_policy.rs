//! The session's policy checks for one client, answered by the relay policy and the
//! access map, with sendmail-style log lines for every refusal.

use std::net::IpAddr;

use posthorn_policy::{Client, Decision, RelayPolicy};
use posthorn_proto::session::{SessionPolicy, Verdict};
use posthorn_proto::{ForwardPath, MailParams, RcptParams, ReversePath};

pub(crate) struct ClientPolicy<'a> {
    pub(crate) relay: &'a RelayPolicy,
    pub(crate) ip: IpAddr,
    pub(crate) hostname: Option<&'a str>,
    pub(crate) authenticated: bool,
    /// Decided at connect: relay.networks or `Connect:... RELAY`.
    pub(crate) may_relay: bool,
    /// `relay=` of the log lines.
    pub(crate) relay_label: &'a str,
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

impl SessionPolicy for ClientPolicy<'_> {
    fn check_sender(&mut self, from: &ReversePath, _: &MailParams) -> Verdict {
        let decision = self.relay.check_sender(&self.client(), from);
        self.verdict("check_mail", format!("<{from}>"), decision)
    }

    fn check_recipient(&mut self, to: &ForwardPath, _: &RcptParams) -> Verdict {
        let may_relay = self.may_relay || self.authenticated;
        let decision = self.relay.check_recipient(&self.client(), may_relay, to);
        self.verdict("check_rcpt", format!("<{to}>"), decision)
    }
}
