//! [`StaticResolver`]: answers from a few lines of zone-like text, for tests of callers.
//!
//! ```text
//! # comment
//! example.com      MX 10 mx1.example.com
//! example.com      MX 0 .            ; with no other MX: RFC 7505 null MX
//! mx1.example.com  A 192.0.2.1
//! mx1.example.com  AAAA 2001:db8::1
//! broken.example   SERVFAIL
//! gone.example     NXDOMAIN
//! empty.example    NODATA           ; exists, with no records at all
//! ```
//!
//! A name that is not listed does not exist (NXDOMAIN); a listed name without MX
//! records answers MX queries with NODATA, and likewise for addresses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use thiserror::Error;

use crate::{mx_answer, normalize_name, BoxFuture, DnsError, MxAnswer, MxRecord, Resolver};

/// A resolver whose answers are fixed in advance. It records the questions asked
/// ([`StaticResolver::queries`]) so tests can check what a caller looked up.
#[derive(Debug, Default)]
pub struct StaticResolver {
    names: HashMap<String, NameData>,
    queries: Mutex<Vec<String>>,
}

/// Everything listed for one name: records, or a failure that answers every question.
#[derive(Debug, Clone, Default)]
struct NameData {
    mx: Vec<MxRecord>,
    addresses: Vec<IpAddr>,
    failure: Option<Failure>,
}

#[derive(Debug, Clone, Copy)]
enum Failure {
    ServFail,
    NxDomain,
}

/// A line of zone text that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("zone line {line}: {problem}")]
pub struct ZoneError {
    pub line: usize,
    pub problem: ZoneProblem,
}

/// What is wrong with a zone line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ZoneProblem {
    #[error("expected `name TYPE data` (TYPE one of MX, A, AAAA, SERVFAIL, NXDOMAIN, NODATA)")]
    Syntax,
    #[error("unknown record type `{0}`")]
    UnknownType(String),
    #[error("bad {record_type} data `{data}`")]
    BadData {
        record_type: &'static str,
        data: String,
    },
    #[error("`{0}` is SERVFAIL or NXDOMAIN and cannot have other lines")]
    Conflict(String),
}

/// One parsed line.
enum ZoneLine {
    Mx(MxRecord),
    Address(IpAddr),
    Failure(Failure),
    /// The name exists; nothing else.
    Exists,
}

impl StaticResolver {
    /// Parses zone text (see the module documentation); the first bad line is an error.
    pub fn from_zone(text: &str) -> Result<StaticResolver, ZoneError> {
        let mut resolver = StaticResolver::default();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split(['#', ';']).next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let (name, parsed) =
                parse_line(content).map_err(|problem| ZoneError { line, problem })?;
            resolver
                .add(name, parsed)
                .map_err(|problem| ZoneError { line, problem })?;
        }
        Ok(resolver)
    }

    /// The questions asked so far, in order: `MX name` or `A/AAAA name`.
    pub fn queries(&self) -> Vec<String> {
        self.queries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn add(&mut self, name: String, parsed: ZoneLine) -> Result<(), ZoneProblem> {
        let data = self.names.entry(name.clone()).or_default();
        let had_failure = data.failure.is_some();
        match parsed {
            ZoneLine::Mx(record) => data.mx.push(record),
            ZoneLine::Address(ip) => data.addresses.push(ip),
            ZoneLine::Failure(failure) => data.failure = Some(failure),
            ZoneLine::Exists => {}
        }
        let has_records = !data.mx.is_empty() || !data.addresses.is_empty();
        if had_failure || (data.failure.is_some() && has_records) {
            return Err(ZoneProblem::Conflict(name));
        }
        Ok(())
    }

    /// Records the question and finds the name's data, or the failure it answers with.
    fn answer(&self, question: &str, name: &str) -> Result<&NameData, DnsError> {
        self.queries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!("{question} {name}"));
        match self.names.get(name) {
            Some(NameData {
                failure: Some(Failure::ServFail),
                ..
            }) => Err(DnsError::Temporary {
                name: name.to_owned(),
                reason: "SERVFAIL".to_owned(),
            }),
            Some(NameData {
                failure: Some(Failure::NxDomain),
                ..
            })
            | None => Err(DnsError::NxDomain {
                name: name.to_owned(),
            }),
            Some(data) => Ok(data),
        }
    }

    fn lookup_addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let data = self.answer("A/AAAA", &normalize_name(host))?;
        let (mut v4, v6): (Vec<IpAddr>, Vec<IpAddr>) =
            data.addresses.iter().partition(|ip| ip.is_ipv4());
        v4.extend(v6);
        Ok(v4)
    }
}

impl Resolver for StaticResolver {
    fn mx<'a>(&'a self, domain: &'a str) -> BoxFuture<'a, Result<MxAnswer, DnsError>> {
        let name = normalize_name(domain);
        let answer = self
            .answer("MX", &name)
            .map(|data| mx_answer(data.mx.clone()));
        Box::pin(std::future::ready(answer))
    }

    fn addresses<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
        Box::pin(std::future::ready(self.lookup_addresses(host)))
    }
}

fn parse_line(content: &str) -> Result<(String, ZoneLine), ZoneProblem> {
    let mut fields = content.split_whitespace();
    let (Some(name), Some(record_type)) = (fields.next(), fields.next()) else {
        return Err(ZoneProblem::Syntax);
    };
    let data: Vec<&str> = fields.collect();
    let parsed = match (record_type.to_ascii_uppercase().as_str(), data.as_slice()) {
        ("MX", [preference, exchange]) => ZoneLine::Mx(MxRecord {
            preference: preference.parse().map_err(|_| bad("MX", content))?,
            exchange: normalize_name(exchange),
        }),
        ("A", [ip]) => ZoneLine::Address(IpAddr::V4(ip.parse().map_err(|_| bad("A", ip))?)),
        ("AAAA", [ip]) => ZoneLine::Address(IpAddr::V6(ip.parse().map_err(|_| bad("AAAA", ip))?)),
        ("SERVFAIL", []) => ZoneLine::Failure(Failure::ServFail),
        ("NXDOMAIN", []) => ZoneLine::Failure(Failure::NxDomain),
        ("NODATA", []) => ZoneLine::Exists,
        ("MX" | "A" | "AAAA" | "SERVFAIL" | "NXDOMAIN" | "NODATA", _) => {
            return Err(ZoneProblem::Syntax)
        }
        (other, _) => return Err(ZoneProblem::UnknownType(other.to_owned())),
    };
    Ok((normalize_name(name), parsed))
}

fn bad(record_type: &'static str, data: &str) -> ZoneProblem {
    ZoneProblem::BadData {
        record_type,
        data: data.to_owned(),
    }
}

#[cfg(test)]
mod tests;
