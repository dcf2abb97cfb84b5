//! Outbound TLS policy tests: lookup order per tag, precedence, and the session check.

use std::net::IpAddr;
use std::path::Path;

use super::{outbound_policy, Destination, TlsMode, TlsPolicy};
use crate::AccessMap;

mod check;
mod lookup;
mod precedence;

/// Parses a map that must be valid, named `access` in errors.
fn map(text: &str) -> AccessMap {
    match AccessMap::parse(text, Path::new("access")) {
        Ok(map) => map,
        Err(errors) => panic!("map should parse:\n{errors}"),
    }
}

/// The policy for `host` (at `ip`, if given) with recipients in `rcpt`.
fn policy(config: TlsMode, access: &str, host: &str, ip: Option<&str>, rcpt: &str) -> TlsPolicy {
    let ip: Option<IpAddr> = ip.map(|text| text.parse().unwrap());
    let destination = Destination {
        host,
        ip,
        recipient_domain: rcpt,
    };
    outbound_policy(config, &map(access), &destination)
}
