//! `posthorn probe`: a live TLS diagnosis of a destination, made with delivery's own
//! parts — the router, the TLS policy (`outbound_policy` and its trace), the STARTTLS
//! client and `${verify}` — so that what it reports is what a delivery would meet.
//!
//! For each address (at most [`MAX_HOPS`] hosts of the route and [`MAX_ADDRESSES`] of
//! each, in delivery's order; equal MX preferences by name, so that the output is
//! stable) it connects, reads the banner, says EHLO, tries STARTTLS when offered
//! (whatever the policy: the probe wants to see it), describes the handshake and the
//! certificate chain, says EHLO again over TLS, and QUITs: no MAIL is ever sent. When
//! STARTTLS fails and delivery would reconnect in plaintext, so does the probe, only to
//! see what that fallback meets. Then [`verdict`] says, as a pure function of those facts
//! and the policy, what a delivery would do there.
//!
//! The probe does not print (that is the CLI's `cmd/probe`), and it never writes the
//! broken-TLS memory: it only reads it.

mod client_cert;
mod facts;
mod session;
mod setup;
mod target;
mod verdict;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use posthorn_config::TlsFailure;
use posthorn_dns::{DnsError, Resolver};
use posthorn_policy::mailertable::Mailertable;
use posthorn_policy::outbound_tls::{outbound_policy, Destination, TlsMode, TlsPolicy};
use posthorn_policy::AccessMap;
use posthorn_proto::Domain;
use posthorn_tls::CertifiedKeyPaths;

pub use facts::{
    AddressProbe, ClientIdentity, HopFacts, ProbeReport, RouteFacts, RouteFailure, SessionFacts,
    StartTlsStep, TlsFacts,
};
pub use session::ProbeTimeouts;
pub use setup::ProbeSetupError;
pub use target::ProbeTarget;
pub use verdict::{overall, verdict, FallbackSettings, Observed, Verdict};

use crate::route::{Hop, RouteError, Router};
use crate::tls::{TlsClient, TlsSetupError};
use crate::tls_memory::TlsMemory;
use client_cert::RecordingResolver;
use session::Dialer;

/// Route hosts probed at most.
pub const MAX_HOPS: usize = 3;
/// Addresses probed at most per host.
pub const MAX_ADDRESSES: usize = 2;

/// How the probe routes and which policy it applies: the daemon's own settings.
pub struct ProbeSetup {
    /// The configured router (mailertable, smarthost, MX) for a bare domain.
    pub router: Router,
    /// For `[host]` and `domain:port`, which bypass the mailertable and smarthost.
    pub resolver: Arc<dyn Resolver>,
    /// `outbound.port`, for hosts and addresses given without one.
    pub port: u16,
    pub access: Arc<AccessMap>,
    /// `outbound.starttls`.
    pub mode: TlsMode,
    pub fallback: FallbackSettings,
    /// The broken-TLS memory, read only.
    pub memory: Option<TlsMemory>,
    pub ehlo_name: String,
    pub timeouts: ProbeTimeouts,
}

/// The STARTTLS client of the probe: delivery's, with a resolver that sees whether the
/// server asked for a client certificate.
pub struct ProbeTls {
    client: TlsClient,
    resolver: Arc<RecordingResolver>,
    identity: Option<ClientIdentity>,
}

impl ProbeTls {
    /// Trust anchors from `ca_bundle` (else the system store) and the configured client
    /// certificate, sent only to a server that asks, as delivery does.
    pub fn new(
        ca_bundle: Option<&Path>,
        client: Option<&CertifiedKeyPaths>,
    ) -> Result<ProbeTls, TlsSetupError> {
        let (resolver, identity) = RecordingResolver::load(client)?;
        let resolver = Arc::new(resolver);
        let client = TlsClient::with_client_cert_resolver(ca_bundle, resolver.clone())?;
        Ok(ProbeTls {
            client,
            resolver,
            identity,
        })
    }
}

/// Runs probes.
pub struct Prober {
    setup: ProbeSetup,
    tls: ProbeTls,
}

impl Prober {
    pub fn new(setup: ProbeSetup, tls: ProbeTls) -> Prober {
        Prober { setup, tls }
    }

    /// Probes `target`: routes it, then every address in turn.
    pub async fn probe(&self, target: &ProbeTarget) -> ProbeReport {
        let route = self.route(target).await;
        let mut addresses = Vec::new();
        if let Ok(route) = &route {
            let recipient_domain = target.recipient_domain();
            for hop in &route.hops {
                for ip in &hop.addresses {
                    let address = SocketAddr::new(*ip, hop.port);
                    addresses.push(self.probe_address(hop, address, &recipient_domain).await);
                }
            }
        }
        let overall = match &route {
            Ok(_) => overall(
                (addresses.iter()).map(|probe| (&probe.verdict, probe.session.banner.is_some())),
            ),
            Err(failure) if failure.permanent => Verdict::Bounce {
                why: failure.reason.clone(),
            },
            Err(failure) => Verdict::Defer {
                why: failure.reason.clone(),
            },
        };
        ProbeReport {
            target: target.to_string(),
            route,
            addresses,
            overall,
            client_certificate: self.tls.identity.clone(),
        }
    }

    async fn probe_address(
        &self,
        hop: &HopFacts,
        address: SocketAddr,
        recipient_domain: &str,
    ) -> AddressProbe {
        let destination = Destination {
            host: &hop.host,
            ip: Some(address.ip()),
            recipient_domain,
        };
        let policy = outbound_policy(self.setup.mode, &self.setup.access, &destination);
        let remembered = self.setup.memory.as_ref().and_then(|memory| {
            let entry = memory.broken(&hop.host, Some(address.ip()), SystemTime::now())?;
            Some(entry.reason)
        });
        let dialer = Dialer {
            ehlo_name: &self.setup.ehlo_name,
            timeouts: self.setup.timeouts,
            tls: &self.tls.client,
            resolver: &self.tls.resolver,
        };
        let session = dialer.probe(address, &hop.host, true).await;
        let plaintext_next = self.goes_plaintext(&policy, remembered.is_some());
        let fallback = match session.starttls.failure() {
            Some(_) if plaintext_next => Some(dialer.probe(address, &hop.host, false).await),
            _ => None,
        };
        let seen = Observed {
            session: &session,
            fallback: fallback.as_ref(),
            remembered: remembered.as_deref(),
        };
        let verdict = verdict(&policy, self.setup.fallback, seen);
        AddressProbe {
            host: hop.host.clone(),
            address,
            preference: hop.preference,
            policy,
            remembered,
            session,
            fallback,
            verdict,
        }
    }

    /// Whether delivery would reach this address in plaintext after a failed STARTTLS.
    fn goes_plaintext(&self, policy: &TlsPolicy, remembered: bool) -> bool {
        policy.mode == TlsMode::Off
            || (policy.allows_plaintext()
                && (remembered || self.setup.fallback.tls_failure == TlsFailure::Plaintext))
    }

    async fn route(&self, target: &ProbeTarget) -> Result<RouteFacts, RouteFailure> {
        let port = self.setup.port;
        let (hops, source) = match target {
            ProbeTarget::Domain { name, port: None } => {
                let route = (self.setup.router.route(&Domain::Name(name.clone())).await)
                    .map_err(route_failure)?;
                (route.hops, Some(route.source))
            }
            ProbeTarget::Domain {
                name,
                port: Some(port),
            } => {
                let mx_only = Router::new(
                    Arc::new(Mailertable::default()),
                    None,
                    *port,
                    Arc::clone(&self.setup.resolver),
                );
                let route =
                    (mx_only.route(&Domain::Name(name.clone())).await).map_err(route_failure)?;
                (route.hops, Some(route.source))
            }
            ProbeTarget::Host { name, port: given } => {
                let addresses = self.host_addresses(name).await?;
                (
                    vec![direct_hop(name, given.unwrap_or(port), addresses)],
                    None,
                )
            }
            ProbeTarget::Address { ip, port: given } => {
                let hop = direct_hop(&ip.to_string(), given.unwrap_or(port), vec![*ip]);
                (vec![hop], None)
            }
        };
        Ok(bounded(hops, source))
    }

    async fn host_addresses(&self, name: &str) -> Result<Vec<IpAddr>, RouteFailure> {
        match self.setup.resolver.addresses(name).await {
            Ok(addresses) if !addresses.is_empty() => Ok(addresses),
            Ok(_) => Err(RouteFailure {
                permanent: true,
                reason: format!("{name} has no A or AAAA records"),
            }),
            Err(error) => Err(RouteFailure {
                permanent: matches!(error, DnsError::NxDomain { .. }),
                reason: error.to_string(),
            }),
        }
    }
}

fn direct_hop(host: &str, port: u16, addresses: Vec<IpAddr>) -> Hop {
    Hop {
        host: host.to_owned(),
        port,
        addresses,
        preference: None,
    }
}

fn route_failure(error: RouteError) -> RouteFailure {
    match error {
        RouteError::Permanent { code, status, text } => RouteFailure {
            permanent: true,
            reason: format!("{code} {status} {text}"),
        },
        RouteError::Temporary { text } => RouteFailure {
            permanent: false,
            reason: text,
        },
    }
}

/// The hops to probe: equal preferences by name (delivery shuffles them; a diagnosis
/// must read the same twice), then cut to the limits.
fn bounded(mut hops: Vec<Hop>, source: Option<crate::route::RouteSource>) -> RouteFacts {
    hops.sort_by(|a, b| (a.preference, &a.host).cmp(&(b.preference, &b.host)));
    let total_hops = hops.len();
    let hops = (hops.into_iter().take(MAX_HOPS))
        .map(|hop| HopFacts {
            total_addresses: hop.addresses.len(),
            addresses: hop.addresses.into_iter().take(MAX_ADDRESSES).collect(),
            host: hop.host,
            port: hop.port,
            preference: hop.preference,
        })
        .collect();
    RouteFacts {
        source,
        hops,
        total_hops,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(host: &str, preference: u16, addresses: usize) -> Hop {
        Hop {
            host: host.into(),
            port: 25,
            addresses: (1..=addresses)
                .map(|n| IpAddr::from([192, 0, 2, n as u8]))
                .collect(),
            preference: Some(preference),
        }
    }

    #[test]
    fn hops_are_ordered_by_preference_then_name_and_cut() {
        let hops = vec![
            hop("c.example", 10, 1),
            hop("b.example", 10, 3),
            hop("a.example", 20, 1),
            hop("z.example", 5, 1),
        ];
        let route = bounded(hops, None);
        let names: Vec<&str> = route.hops.iter().map(|h| h.host.as_str()).collect();
        assert_eq!(names, ["z.example", "b.example", "c.example"]);
        assert_eq!(route.total_hops, 4);
        assert_eq!(route.hops[1].addresses.len(), MAX_ADDRESSES);
        assert_eq!(route.hops[1].total_addresses, 3);
    }
}
