//! [`HickoryResolver`]: the network implementation of [`Resolver`] over hickory-resolver.
//!
//! Names are always queried as fully qualified names, so search domains never apply.
//! hickory caches answers for no longer than their TTL. A and AAAA are separate
//! queries (run together) so that NXDOMAIN, NODATA and temporary failures of each
//! can be told apart, which hickory's combined `lookup_ip` does not do.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{lookup::Lookup, Name, ResolveError, ResolveErrorKind, TokioResolver};

use crate::{
    join_families, mx_answer, normalize_name, BoxFuture, DnsError, MxAnswer, MxRecord, Resolver,
};

/// How long one query waits for an answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// How many times a query is sent before the lookup fails temporarily.
const ATTEMPTS: usize = 2;

/// Resolves over the network: the system's name servers, or exactly the ones given.
#[derive(Debug, Clone)]
pub struct HickoryResolver {
    inner: TokioResolver,
}

impl HickoryResolver {
    /// With an empty list, the name servers and options of the system configuration
    /// (`/etc/resolv.conf`, and `/etc/hosts` for addresses); otherwise exactly those
    /// servers, over UDP with TCP for truncated answers, and no hosts file.
    /// Search domains are never used. Needs a tokio runtime only when queries run.
    pub fn new(nameservers: &[SocketAddr]) -> Result<HickoryResolver, DnsError> {
        let (config, mut options) = if nameservers.is_empty() {
            system_config()?
        } else {
            (explicit_config(nameservers), explicit_options())
        };
        options.timeout = QUERY_TIMEOUT;
        options.attempts = ATTEMPTS;
        let inner = TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
            .with_options(options)
            .build();
        Ok(HickoryResolver { inner })
    }

    async fn lookup_mx(&self, domain: &str) -> Result<MxAnswer, DnsError> {
        let name = normalize_name(domain);
        let records = match self.query(&name, RecordType::MX).await? {
            Some(lookup) => lookup
                .iter()
                .filter_map(|data| match data {
                    RData::MX(mx) => Some(MxRecord {
                        preference: mx.preference(),
                        exchange: normalize_name(&mx.exchange().to_ascii()),
                    }),
                    _ => None,
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(mx_answer(records))
    }

    async fn lookup_addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let name = normalize_name(host);
        let (v4, v6) = tokio::join!(
            self.family(&name, RecordType::A),
            self.family(&name, RecordType::AAAA)
        );
        join_families(v4, v6)
    }

    async fn family(&self, name: &str, record_type: RecordType) -> Result<Vec<IpAddr>, DnsError> {
        let Some(lookup) = self.query(name, record_type).await? else {
            return Ok(Vec::new());
        };
        Ok(lookup
            .iter()
            .filter_map(|data| match data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                _ => None,
            })
            .collect())
    }

    /// One query for `name` (already normalised); `Ok(None)` is NODATA.
    async fn query(&self, name: &str, record_type: RecordType) -> Result<Option<Lookup>, DnsError> {
        let mut fqdn = Name::from_utf8(name).map_err(|_| DnsError::NxDomain {
            name: name.to_owned(),
        })?;
        fqdn.set_fqdn(true);
        match self.inner.lookup(fqdn, record_type).await {
            Ok(lookup) => Ok(Some(lookup)),
            Err(error) => classify(name, &error).map(|()| None),
        }
    }
}

impl Resolver for HickoryResolver {
    fn mx<'a>(&'a self, domain: &'a str) -> BoxFuture<'a, Result<MxAnswer, DnsError>> {
        Box::pin(self.lookup_mx(domain))
    }

    fn addresses<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
        Box::pin(self.lookup_addresses(host))
    }
}

/// A failed lookup: `Ok(())` for NODATA (the name exists without such records),
/// NXDOMAIN as such, everything else (SERVFAIL, REFUSED, timeouts, I/O) temporary.
fn classify(name: &str, error: &ResolveError) -> Result<(), DnsError> {
    let no_records = match error.kind() {
        ResolveErrorKind::Proto(proto) => match proto.kind() {
            ProtoErrorKind::NoRecordsFound { response_code, .. } => Some(*response_code),
            _ => None,
        },
        _ => None,
    };
    match no_records {
        Some(ResponseCode::NoError) => Ok(()),
        Some(ResponseCode::NXDomain) => Err(DnsError::NxDomain {
            name: name.to_owned(),
        }),
        _ => Err(DnsError::Temporary {
            name: name.to_owned(),
            reason: error.to_string(),
        }),
    }
}

/// The system's name servers, without its search list or domain.
fn system_config() -> Result<(ResolverConfig, ResolverOpts), DnsError> {
    let (system, options) =
        hickory_resolver::system_conf::read_system_conf().map_err(|error| DnsError::Config {
            reason: format!("cannot read the system resolver configuration: {error}"),
        })?;
    let servers = system.name_servers().to_vec();
    Ok((
        ResolverConfig::from_parts(None, Vec::new(), servers),
        options,
    ))
}

fn explicit_config(nameservers: &[SocketAddr]) -> ResolverConfig {
    let mut config = ResolverConfig::new();
    for &address in nameservers {
        config.add_name_server(NameServerConfig::new(address, Protocol::Udp));
        config.add_name_server(NameServerConfig::new(address, Protocol::Tcp));
    }
    config
}

fn explicit_options() -> ResolverOpts {
    let mut options = ResolverOpts::default();
    options.use_hosts_file = ResolveHosts::Never;
    options
}
