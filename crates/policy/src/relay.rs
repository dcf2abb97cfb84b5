//! Relay control: who may connect, send and relay, with sendmail's access-map semantics.
//!
//! A recipient is accepted when the client may relay (its address is in
//! `relay.networks`, a `Connect:` entry says `RELAY`, or it authenticated), or when
//! the recipient's domain is a relay domain (`relay.domains`, or a `To:` entry says
//! `RELAY`; a domain also covers its subdomains, like sendmail's `RELAY_DOMAIN`).
//! `<Postmaster>` is always accepted.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use posthorn_proto::{Domain, EnhancedStatus, ForwardPath, Mailbox, Reply, ReversePath};

use crate::map::AccessMap;
use crate::tag::Tag;
use crate::value::{Action, Value};

/// What relay control needs: the relay settings and the access map.
#[derive(Debug, Clone)]
pub struct RelayPolicy {
    networks: Vec<IpNet>,
    domains: Vec<String>,
    access: Arc<AccessMap>,
}

/// The connecting client as relay control sees it.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub ip: IpAddr,
    /// The verified reverse-DNS name, if any.
    pub hostname: Option<&'a str>,
    pub authenticated: bool,
}

/// The verdict on a new connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectDecision {
    Accept { may_relay: bool },
    Reject(Reply),
}

/// The verdict on a sender or a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Accept,
    /// Accept, then drop the message without delivering it.
    Discard,
    Reject(Reply),
}

const ACCESS_DENIED: EnhancedStatus = EnhancedStatus::new(5, 7, 1);

impl RelayPolicy {
    /// `domains` are compared without case.
    pub fn new(networks: Vec<IpNet>, domains: Vec<String>, access: Arc<AccessMap>) -> Self {
        let domains = domains
            .into_iter()
            .map(|domain| domain.trim_end_matches('.').to_ascii_lowercase())
            .collect();
        RelayPolicy {
            networks,
            domains,
            access,
        }
    }

    pub fn access(&self) -> &AccessMap {
        &self.access
    }

    /// `Connect:` by host name and its parents, then by IP and its prefixes.
    pub fn check_connect(&self, client: &Client) -> ConnectDecision {
        match self.connect_action(client) {
            Some(Action::Relay) => ConnectDecision::Accept { may_relay: true },
            Some(Action::Reject) => {
                ConnectDecision::Reject(Reply::new(550, ACCESS_DENIED, "Access denied"))
            }
            Some(Action::Error(reply)) => ConnectDecision::Reject(reply.clone()),
            Some(Action::Ok | Action::Discard | Action::Skip) | None => ConnectDecision::Accept {
                may_relay: self.in_relay_networks(client.ip) || client.authenticated,
            },
        }
    }

    /// `From:` for the envelope sender (`From:<>` for the null sender). A client
    /// whose `Connect:` entry says `DISCARD` has every message discarded.
    pub fn check_sender(&self, client: &Client, from: &ReversePath) -> Decision {
        if matches!(self.connect_action(client), Some(Action::Discard)) {
            return Decision::Discard;
        }
        let address = match from {
            ReversePath::Null => "<>".to_owned(),
            ReversePath::Mailbox(mailbox) => mailbox_key(mailbox),
        };
        let lookup = self.access.lookup_address(Tag::From, &address);
        match lookup.matched.map(|entry| &entry.value) {
            Some(Value::Action(Action::Reject)) => Decision::Reject(access_denied(from)),
            Some(Value::Action(Action::Error(reply))) => Decision::Reject(reply.clone()),
            Some(Value::Action(Action::Discard)) => Decision::Discard,
            _ => Decision::Accept,
        }
    }

    /// `To:` for one recipient, then the relay rule. `may_relay` is what
    /// [`RelayPolicy::check_connect`] said; authentication and `relay.networks` are
    /// taken into account here as well.
    pub fn check_recipient(&self, client: &Client, may_relay: bool, to: &ForwardPath) -> Decision {
        let ForwardPath::Mailbox(mailbox) = to else {
            return Decision::Accept;
        };
        let may_relay = may_relay || client.authenticated || self.in_relay_networks(client.ip);
        let lookup = self.access.lookup_address(Tag::To, &mailbox_key(mailbox));
        let to_relay = match lookup.matched.map(|entry| &entry.value) {
            Some(Value::Action(Action::Reject)) => return Decision::Reject(access_denied(mailbox)),
            Some(Value::Action(Action::Error(reply))) => return Decision::Reject(reply.clone()),
            Some(Value::Action(Action::Discard)) => return Decision::Discard,
            Some(Value::Action(Action::Relay)) => true,
            _ => false,
        };
        if may_relay {
            return Decision::Accept;
        }
        if has_routing_trick(&mailbox.local_part) {
            return Decision::Reject(relaying_denied(mailbox));
        }
        if to_relay || self.is_relay_domain(&mailbox.domain) {
            Decision::Accept
        } else {
            Decision::Reject(relaying_denied(mailbox))
        }
    }

    fn connect_action(&self, client: &Client) -> Option<&Action> {
        let lookup = self
            .access
            .lookup_host_then_ip(Tag::Connect, client.hostname, client.ip);
        match lookup.matched.map(|entry| &entry.value) {
            Some(Value::Action(action)) => Some(action),
            _ => None,
        }
    }

    fn in_relay_networks(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        self.networks.iter().any(|network| network.contains(&ip))
    }

    /// `example.com` in `relay.domains` covers `example.com` and `*.example.com`.
    fn is_relay_domain(&self, domain: &Domain) -> bool {
        let Domain::Name(name) = domain else {
            return false;
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.domains.iter().any(|relay| {
            name == *relay
                || name
                    .strip_suffix(relay.as_str())
                    .is_some_and(|head| head.ends_with('.'))
        })
    }
}

/// `user@domain` as the access map sees it.
fn mailbox_key(mailbox: &Mailbox) -> String {
    format!("{}@{}", mailbox.local_part, mailbox.domain.lookup_key())
}

/// Source routing hidden in the local part (`a%b@relay`, `b!a@relay`,
/// `"a@b"@relay`): a relay domain must not forward these for an outsider.
fn has_routing_trick(local_part: &str) -> bool {
    local_part.contains(['%', '!', '@'])
}

fn access_denied(address: &impl std::fmt::Display) -> Reply {
    Reply::new(550, ACCESS_DENIED, format!("<{address}>... Access denied"))
}

fn relaying_denied(mailbox: &Mailbox) -> Reply {
    Reply::new(
        550,
        ACCESS_DENIED,
        format!("<{mailbox}>... Relaying denied"),
    )
}
