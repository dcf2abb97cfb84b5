//! Routing: which hosts, ports and addresses mail for a domain goes to.
//!
//! The order is the mailertable, then the smarthost, else the domain's MX records
//! (RFC 5321 §5.1): MX hosts by preference ascending, equal preferences in random
//! order, every IPv4 and IPv6 address of each; with no MX records, the domain's own
//! addresses (the implicit MX). An address literal (`user@[192.0.2.1]`) goes to that
//! address, or through the smarthost as sendmail does. The answer is a [`Route`]:
//! the hops to try in order, or a [`RouteError`] saying whether to bounce or retry.
//!
//! This module does not connect anywhere. Dropping the hops that are this host (RFC 5321
//! §5.1's "MX points back to me") is [`ThisHost`]'s job: the deliverer knows its own
//! names and listeners and applies it to every route.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use futures_util::future::join_all;
use posthorn_dns::{DnsError, MxAnswer, MxRecord, Resolver};
use posthorn_policy::mailertable::{HostError, MailerHost, MailerTarget, Mailertable};
use posthorn_proto::{Domain, EnhancedStatus};
use rand::seq::SliceRandom;
use thiserror::Error;

mod this_host;
pub use this_host::ThisHost;

/// One host to try, with every address to try it at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The host name (or the IP address's text) for SNI, certificate checks and logs.
    pub host: String,
    pub port: u16,
    /// IPv4 first, then IPv6; never empty in a [`Route`].
    pub addresses: Vec<IpAddr>,
    /// The MX preference, when the hop is an MX record.
    pub preference: Option<u16>,
}

/// Why the route is what it is (for logs and `posthorn` explanations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteSource {
    Mailertable {
        line: usize,
    },
    Smarthost,
    Mx,
    /// No MX records: the domain's own addresses (RFC 5321 §5.1).
    ImplicitMx,
    AddressLiteral,
}

/// Where mail for one domain goes: the hops to try, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub hops: Vec<Hop>,
    pub source: RouteSource,
}

/// Why there is no route.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RouteError {
    /// Bounce the recipients with this reply.
    #[error("{code} {status} {text}")]
    Permanent {
        code: u16,
        status: EnhancedStatus,
        text: String,
    },
    /// Keep the recipients queued and try again later.
    #[error("{text}")]
    Temporary { text: String },
}

/// `outbound.smarthost`: `[relay.example.com]:587` (no MX lookup), `relay.example.com`
/// (its MX records), `[192.0.2.1]`, `[IPv6:2001:db8::1]`, each with an optional port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smarthost {
    pub host: String,
    pub port: Option<u16>,
    /// Whether to look up the host's MX records (written without brackets).
    pub mx: bool,
}

impl FromStr for Smarthost {
    type Err = HostError;

    fn from_str(text: &str) -> Result<Smarthost, HostError> {
        Ok(match text.trim().parse()? {
            MailerHost::Mx { host, port } => Smarthost {
                host,
                port,
                mx: true,
            },
            MailerHost::Direct { host, port } => Smarthost {
                host,
                port,
                mx: false,
            },
        })
    }
}

/// Finds routes; cheap to share, one per delivery setup.
pub struct Router {
    mailertable: Arc<Mailertable>,
    smarthost: Option<Smarthost>,
    /// The port for every hop whose entry does not name one.
    port: u16,
    resolver: Arc<dyn Resolver>,
}

impl Router {
    pub fn new(
        mailertable: Arc<Mailertable>,
        smarthost: Option<Smarthost>,
        port: u16,
        resolver: Arc<dyn Resolver>,
    ) -> Self {
        Router {
            mailertable,
            smarthost,
            port,
            resolver,
        }
    }

    /// The route for mail to `domain`.
    pub async fn route(&self, domain: &Domain) -> Result<Route, RouteError> {
        let name = match domain {
            Domain::Name(name) => name,
            Domain::Literal(ip) => return self.literal_route(*ip).await,
        };
        if let Some(entry) = self.mailertable.lookup(name) {
            let source = RouteSource::Mailertable { line: entry.line };
            return match &entry.target {
                MailerTarget::Smtp { host } => self.host_route(host, source).await,
                MailerTarget::Error { code, status, text } => {
                    Err(entry_error(*code, *status, text))
                }
            };
        }
        if let Some(smarthost) = &self.smarthost {
            return self.smarthost_route(smarthost).await;
        }
        let (hops, implicit) = self.mx_hops(&name.to_ascii_lowercase(), self.port).await?;
        let source = if implicit {
            RouteSource::ImplicitMx
        } else {
            RouteSource::Mx
        };
        Ok(Route { hops, source })
    }

    /// sendmail sends address literals through the smarthost when there is one.
    async fn literal_route(&self, ip: IpAddr) -> Result<Route, RouteError> {
        if let Some(smarthost) = &self.smarthost {
            return self.smarthost_route(smarthost).await;
        }
        let hop = Hop {
            host: ip.to_string(),
            port: self.port,
            addresses: vec![ip],
            preference: None,
        };
        Ok(Route {
            hops: vec![hop],
            source: RouteSource::AddressLiteral,
        })
    }

    async fn smarthost_route(&self, smarthost: &Smarthost) -> Result<Route, RouteError> {
        let (host, port) = (smarthost.host.clone(), smarthost.port);
        let target = if smarthost.mx {
            MailerHost::Mx { host, port }
        } else {
            MailerHost::Direct { host, port }
        };
        self.host_route(&target, RouteSource::Smarthost).await
    }

    /// The hops for a mailertable or smarthost host.
    async fn host_route(
        &self,
        host: &MailerHost,
        source: RouteSource,
    ) -> Result<Route, RouteError> {
        let hops = match host {
            MailerHost::Mx { host, port } => self.mx_hops(host, port.unwrap_or(self.port)).await?.0,
            MailerHost::Direct { host, port } => {
                vec![self.direct_hop(host, port.unwrap_or(self.port)).await?]
            }
        };
        Ok(Route { hops, source })
    }

    /// The MX hops of `domain`, or its implicit MX (then `true`).
    async fn mx_hops(&self, domain: &str, port: u16) -> Result<(Vec<Hop>, bool), RouteError> {
        match self.resolver.mx(domain).await {
            Ok(MxAnswer::Records(records)) => {
                let ordered = order_by_preference(records, &mut rand::rng());
                Ok((self.exchange_hops(domain, ordered, port).await?, false))
            }
            Ok(MxAnswer::NoRecords) => Ok((vec![self.direct_hop(domain, port).await?], true)),
            Ok(MxAnswer::NullMx) => Err(RouteError::Permanent {
                code: 556,
                status: EnhancedStatus::new(5, 1, 10),
                text: "Recipient address has null MX".to_owned(),
            }),
            Err(error) => Err(lookup_failure(error)),
        }
    }

    /// Looks up every MX host's addresses at once; hosts without any are left out.
    async fn exchange_hops(
        &self,
        domain: &str,
        records: Vec<MxRecord>,
        port: u16,
    ) -> Result<Vec<Hop>, RouteError> {
        let lookups = records
            .iter()
            .map(|record| self.resolver.addresses(&record.exchange));
        let answers = join_all(lookups).await;
        let mut hops = Vec::new();
        let mut temporary = None;
        for (record, answer) in records.into_iter().zip(answers) {
            match answer {
                Ok(addresses) if !addresses.is_empty() => hops.push(Hop {
                    host: record.exchange,
                    port,
                    addresses,
                    preference: Some(record.preference),
                }),
                Ok(_) | Err(DnsError::NxDomain { .. }) => {}
                Err(error) => {
                    temporary.get_or_insert(error);
                }
            }
        }
        if hops.is_empty() {
            let text = match temporary {
                Some(error) => format!("no usable MX addresses for {domain}: {error}"),
                None => format!("no usable MX addresses for {domain}"),
            };
            return Err(RouteError::Temporary { text });
        }
        Ok(hops)
    }

    /// One hop to `host` itself (a name's A/AAAA, or an address as written).
    async fn direct_hop(&self, host: &str, port: u16) -> Result<Hop, RouteError> {
        let addresses = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => self
                .resolver
                .addresses(host)
                .await
                .map_err(lookup_failure)?,
        };
        if addresses.is_empty() {
            return Err(host_not_found());
        }
        Ok(Hop {
            host: host.to_owned(),
            port,
            addresses,
            preference: None,
        })
    }
}

/// RFC 5321 §5.1: lowest preference first; equal preferences in random order, so
/// that load spreads over them. (Shuffle, then a stable sort keeps that randomness.)
fn order_by_preference(mut records: Vec<MxRecord>, rng: &mut impl rand::Rng) -> Vec<MxRecord> {
    records.shuffle(rng);
    records.sort_by_key(|record| record.preference);
    records
}

/// NXDOMAIN bounces; anything else is tried again later.
fn lookup_failure(error: DnsError) -> RouteError {
    match error {
        DnsError::NxDomain { .. } => host_not_found(),
        DnsError::Temporary { .. } | DnsError::Config { .. } => RouteError::Temporary {
            text: error.to_string(),
        },
    }
}

fn host_not_found() -> RouteError {
    RouteError::Permanent {
        code: 550,
        status: EnhancedStatus::new(5, 1, 2),
        text: "Host or domain name not found".to_owned(),
    }
}

/// A mailertable `error:` entry: a 4xx reply defers, a 5xx bounces.
fn entry_error(code: u16, status: EnhancedStatus, text: &str) -> RouteError {
    if code < 500 {
        return RouteError::Temporary {
            text: format!("{code} {status} {text}"),
        };
    }
    RouteError::Permanent {
        code,
        status,
        text: text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
