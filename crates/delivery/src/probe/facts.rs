//! What a probe observed: plain data, filled in by the session driver and read by the
//! verdict and the printers.

use std::net::{IpAddr, SocketAddr};

use posthorn_policy::outbound_tls::TlsPolicy;
use posthorn_proto::Reply;
use posthorn_tls::CertificateInfo;

use super::verdict::Verdict;
use crate::route::RouteSource;
use crate::verify::Verify;

/// Everything one probe found.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// The destination as given, in canonical form.
    pub target: String,
    /// The hops probed, or why routing gave none.
    pub route: Result<RouteFacts, RouteFailure>,
    /// One entry per address probed, in the order delivery would try them.
    pub addresses: Vec<AddressProbe>,
    /// What a delivery would do: the first address that would take the mail decides.
    pub overall: Verdict,
    /// The client certificate Posthorn sends to a server that asks, when configured.
    pub client_certificate: Option<ClientIdentity>,
}

/// The configured client certificate, as a server asking for one would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    pub subject: String,
    pub names: Vec<String>,
}

impl ProbeReport {
    /// Whether any address answered with a greeting (exit 69 when none did).
    pub fn any_answered(&self) -> bool {
        self.addresses
            .iter()
            .any(|address| address.session.banner.is_some())
    }
}

/// Routing gave no address: bounce (`permanent`) or try later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFailure {
    pub permanent: bool,
    pub reason: String,
}

/// The route as probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFacts {
    /// `None` for a host or an address given directly.
    pub source: Option<RouteSource>,
    pub hops: Vec<HopFacts>,
    /// Hops the route had before the probe's limit cut it.
    pub total_hops: usize,
}

/// One host of the route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HopFacts {
    pub host: String,
    pub port: u16,
    pub preference: Option<u16>,
    /// The addresses probed.
    pub addresses: Vec<IpAddr>,
    /// Addresses the host had before the probe's limit cut them.
    pub total_addresses: usize,
}

/// One address, from connect to QUIT, and what delivery would do there.
#[derive(Debug, Clone)]
pub struct AddressProbe {
    pub host: String,
    pub address: SocketAddr,
    pub preference: Option<u16>,
    /// The TLS policy for this host and address, with its access-map trace.
    pub policy: TlsPolicy,
    /// The broken-TLS memory says to skip STARTTLS here (why it was recorded).
    pub remembered: Option<String>,
    /// The first connection, with STARTTLS when offered.
    pub session: SessionFacts,
    /// The plaintext reconnect after a failed STARTTLS, when delivery would make one.
    pub fallback: Option<SessionFacts>,
    pub verdict: Verdict,
}

/// One connection as far as it got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFacts {
    /// Why the TCP connection failed, when it did.
    pub connect_error: Option<String>,
    pub banner: Option<Reply>,
    /// The reply to EHLO (or to HELO after the fallback).
    pub ehlo: Option<Reply>,
    /// Why the session ended before it was ready for mail (refused greeting, timeout).
    pub failure: Option<String>,
    pub starttls: StartTlsStep,
}

impl SessionFacts {
    /// Connected and greeted with EHLO (or HELO) answered: ready for mail.
    pub fn ready(&self) -> bool {
        self.connect_error.is_none() && self.failure.is_none() && self.ehlo.is_some()
    }
}

/// What STARTTLS did on one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StartTlsStep {
    /// Not tried: the session did not get that far, or this is the plaintext reconnect.
    #[default]
    NotAttempted,
    /// The EHLO reply did not offer STARTTLS.
    NotOffered,
    /// The server answered STARTTLS with something other than 220 (`PROTOCOL`).
    Refused(Reply),
    /// `220`, then the handshake failed (`SOFTWARE`).
    HandshakeFailed { reply: String, reason: String },
    /// `220` and a finished handshake; `after` is the EHLO over TLS, or why TLS broke
    /// before it was answered (a failed handshake too: `SOFTWARE`).
    Established {
        reply: String,
        tls: Box<TlsFacts>,
        after: Result<Reply, String>,
    },
}

impl StartTlsStep {
    /// Why STARTTLS gave no usable session, in the words delivery logs; `None` when it
    /// was not tried or worked.
    pub fn failure(&self) -> Option<String> {
        match self {
            StartTlsStep::Refused(reply) => Some(reply.to_string()),
            StartTlsStep::HandshakeFailed { reason, .. } => Some(reason.clone()),
            StartTlsStep::Established {
                after: Err(reason), ..
            } => Some(format!("TLS broke before MAIL: {reason}")),
            _ => None,
        }
    }

    /// The `${verify}` value of a failure: `PROTOCOL` for a refusal, else `SOFTWARE`.
    pub fn failure_verify(&self) -> Option<Verify> {
        match self {
            StartTlsStep::Refused(_) => Some(Verify::Protocol),
            _ => self.failure().map(|_| Verify::Software),
        }
    }
}

/// A finished handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFacts {
    pub version: &'static str,
    pub cipher: String,
    pub bits: u16,
    pub verify: Verify,
    /// Why the certificate did not verify.
    pub verify_error: Option<String>,
    /// The server's chain, leaf first; an entry that does not parse says why.
    pub chain: Vec<Result<CertificateInfo, String>>,
    /// The leaf's names, for the `+CN` requirement check.
    pub peer_names: Vec<String>,
    /// The server sent a CertificateRequest.
    pub client_certificate_requested: bool,
}
