//! DNS for delivery: the two questions routing asks (a domain's MX records, a host's
//! addresses), behind the [`Resolver`] trait so routing can be tested without a network.
//!
//! [`HickoryResolver`] answers them over the network with hickory-resolver;
//! [`StaticResolver`] answers them from a few lines of zone-like text, for tests of
//! callers. Answers are sorted into what delivery must tell apart: records, RFC 7505
//! null MX, a name that exists without the records asked for, a name that does not
//! exist, and a failure worth retrying later.
//!
//! This crate does not order MX hosts, pick addresses or decide what a failure means
//! for a message: that is routing's job (`posthorn-delivery`).

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

mod hickory;
mod zone;

pub use hickory::HickoryResolver;
pub use zone::{StaticResolver, ZoneError};

/// One MX record (RFC 5321 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MxRecord {
    /// Lower numbers are tried first.
    pub preference: u16,
    /// The mail exchanger: lower-case, no trailing dot.
    pub exchange: String,
}

/// What an MX query found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxAnswer {
    /// At least one usable MX record, in the order the server sent them.
    Records(Vec<MxRecord>),
    /// RFC 7505: the domain says it accepts no mail (its only MX is `0 .`).
    NullMx,
    /// The name exists (NOERROR) but has no MX records: RFC 5321's implicit MX applies.
    NoRecords,
}

/// Why a lookup gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// NXDOMAIN: the name does not exist (or cannot be written as a DNS name).
    #[error("{name}: host or domain name not found")]
    NxDomain { name: String },
    /// SERVFAIL, REFUSED, a timeout or a network error: worth trying again later.
    #[error("{name}: temporary DNS failure: {reason}")]
    Temporary { name: String, reason: String },
    /// The resolver could not be set up (for example an unreadable resolv.conf).
    #[error("DNS resolver configuration: {reason}")]
    Config { reason: String },
}

/// A boxed future, so that [`Resolver`] can be used as `dyn Resolver`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The DNS questions delivery asks. Names may be given with or without a trailing dot
/// and in any case; they are always looked up as fully qualified names.
pub trait Resolver: Send + Sync {
    /// The MX records of `domain`.
    fn mx<'a>(&'a self, domain: &'a str) -> BoxFuture<'a, Result<MxAnswer, DnsError>>;

    /// A and AAAA together, IPv4 first; `Ok(empty)` when the name exists with neither.
    /// When one family fails temporarily and the other has addresses, those are returned.
    fn addresses<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>>;
}

/// The form names are compared and reported in: lower-case, without the trailing dot.
pub fn normalize_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() => stripped.to_owned(),
        _ => lower,
    }
}

/// Sorts MX exchanges into an answer: only root exchanges (`.`) is RFC 7505's null MX;
/// a root exchange among real ones cannot be delivered to and is dropped.
fn mx_answer(records: Vec<MxRecord>) -> MxAnswer {
    if records.is_empty() {
        return MxAnswer::NoRecords;
    }
    let usable: Vec<MxRecord> = records
        .into_iter()
        .filter(|record| record.exchange != ".")
        .collect();
    if usable.is_empty() {
        MxAnswer::NullMx
    } else {
        MxAnswer::Records(usable)
    }
}

/// Joins the A and AAAA answers for `host` into one result (see [`Resolver::addresses`]).
fn join_families(
    v4: Result<Vec<IpAddr>, DnsError>,
    v6: Result<Vec<IpAddr>, DnsError>,
) -> Result<Vec<IpAddr>, DnsError> {
    match (v4, v6) {
        (Ok(mut v4), Ok(v6)) => {
            v4.extend(v6);
            Ok(v4)
        }
        (Ok(found), Err(error)) | (Err(error), Ok(found)) => {
            if found.is_empty() {
                Err(error)
            } else {
                Ok(found)
            }
        }
        (Err(first), Err(second)) => match (&first, &second) {
            (DnsError::NxDomain { .. }, _) => Err(first),
            (_, DnsError::NxDomain { .. }) => Err(second),
            _ => Err(first),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nx() -> DnsError {
        DnsError::NxDomain { name: "h".into() }
    }

    fn temporary() -> DnsError {
        DnsError::Temporary {
            name: "h".into(),
            reason: "SERVFAIL".into(),
        }
    }

    #[test]
    fn join_keeps_ipv4_before_ipv6() {
        let v4: IpAddr = [192, 0, 2, 1].into();
        let v6: IpAddr = "2001:db8::1".parse().unwrap_or(v4);
        assert_eq!(join_families(Ok(vec![v4]), Ok(vec![v6])), Ok(vec![v4, v6]));
    }

    #[test]
    fn join_prefers_addresses_over_a_failed_family_but_not_over_nothing() {
        let v4: IpAddr = [192, 0, 2, 1].into();
        assert_eq!(join_families(Ok(vec![v4]), Err(temporary())), Ok(vec![v4]));
        assert_eq!(
            join_families(Err(temporary()), Ok(vec![])),
            Err(temporary())
        );
        assert_eq!(join_families(Err(temporary()), Err(nx())), Err(nx()));
        assert_eq!(join_families(Ok(vec![]), Ok(vec![])), Ok(vec![]));
    }

    #[test]
    fn root_exchanges_make_null_mx_only_when_alone() {
        let root = MxRecord {
            preference: 0,
            exchange: ".".into(),
        };
        let real = MxRecord {
            preference: 10,
            exchange: "mx.example.com".into(),
        };
        assert_eq!(mx_answer(vec![root.clone()]), MxAnswer::NullMx);
        assert_eq!(
            mx_answer(vec![root, real.clone()]),
            MxAnswer::Records(vec![real])
        );
        assert_eq!(mx_answer(vec![]), MxAnswer::NoRecords);
    }

    #[test]
    fn names_are_lower_case_without_the_trailing_dot() {
        assert_eq!(normalize_name("MX1.Example.COM."), "mx1.example.com");
        assert_eq!(normalize_name("."), ".");
    }
}
