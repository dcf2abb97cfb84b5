//! The decision itself: three lookups, then the precedence of the module doc.

use super::{
    literal_ip, Destination, LookupStep, PolicyNote, PolicySource, Requirements, TlsMode, TlsPolicy,
};
use crate::map::{AccessMap, Entry, Lookup};
use crate::tag::Tag;
use crate::tls_requirement::{CommonName, RequirementFailure, TlsRequirement};
use crate::value::Value;

/// What one `TLS_Srv:`/`TLS_Rcpt:` entry demands.
struct Demand<'a> {
    entry: &'a Entry,
    mode: TlsMode,
    requirements: Requirements,
}

/// The TLS policy for a connection to `destination` (see the module doc for the rules).
pub fn outbound_policy(
    config_mode: TlsMode,
    access: &AccessMap,
    destination: &Destination<'_>,
) -> TlsPolicy {
    let try_tls = peer_lookup(access, Tag::TryTls, destination);
    let server = peer_lookup(access, Tag::TlsSrv, destination);
    let recipient = access.lookup_host(Tag::TlsRcpt, destination.recipient_domain);

    let demands: Vec<Demand<'_>> = [server.matched, recipient.matched]
        .into_iter()
        .flatten()
        .filter_map(|entry| demand(entry, destination.host))
        .collect();
    let try_tls_no = try_tls
        .matched
        .filter(|entry| entry.value == Value::TryTls(false));

    let deciding = strictest(&demands);
    let (mode, source) = decide_mode(config_mode, deciding, try_tls_no);
    let requirements = demands
        .iter()
        .fold(Requirements::default(), |merged, demand| {
            merge(merged, &demand.requirements)
        });
    let mut notes = override_notes(config_mode, mode, try_tls_no, deciding);
    notes.extend(demands.iter().flat_map(|demand| unenforced(demand.entry)));
    TlsPolicy {
        mode,
        requirements,
        source,
        trace: vec![
            step(Tag::TryTls, try_tls),
            step(Tag::TlsSrv, server),
            step(Tag::TlsRcpt, recipient),
        ],
        notes,
    }
}

/// Host keys, then IP keys, then the default; a host that is itself an address literal
/// is looked up once, as that address.
fn peer_lookup<'a>(access: &'a AccessMap, tag: Tag, destination: &Destination<'_>) -> Lookup<'a> {
    let literal = literal_ip(destination.host);
    match destination.ip {
        Some(ip) if literal == Some(ip) => access.lookup_ip(tag, ip),
        Some(ip) => access.lookup_host_then_ip(tag, Some(destination.host), ip),
        None => access.lookup_host(tag, destination.host),
    }
}

fn demand<'a>(entry: &'a Entry, host: &str) -> Option<Demand<'a>> {
    let Value::TlsRequirement(requirement) = &entry.value else {
        return None;
    };
    let requirements = requirements_of(requirement, host);
    let mode = if requirements.verify {
        TlsMode::Verified
    } else {
        TlsMode::Required
    };
    Some(Demand {
        entry,
        mode,
        requirements,
    })
}

fn requirements_of(requirement: &TlsRequirement, host: &str) -> Requirements {
    let common_name = requirement.common_name.as_ref().map(|name| match name {
        CommonName::HostName => host.trim().trim_end_matches('.').to_ascii_lowercase(),
        CommonName::Name(name) => name.clone(),
    });
    Requirements {
        verify: requirement.verify,
        min_bits: requirement.min_bits,
        common_name,
        permanent_failure: requirement.failure == RequirementFailure::Permanent,
    }
}

/// The demand with the strictest mode; the first (`TLS_Srv`) on a tie.
fn strictest<'d, 'a>(demands: &'d [Demand<'a>]) -> Option<&'d Demand<'a>> {
    demands.iter().fold(None, |best, demand| match best {
        Some(best) if best.mode >= demand.mode => Some(best),
        _ => Some(demand),
    })
}

fn decide_mode(
    config_mode: TlsMode,
    strictest: Option<&Demand<'_>>,
    try_tls_no: Option<&Entry>,
) -> (TlsMode, PolicySource) {
    match (strictest, try_tls_no) {
        // A requirement beats Try_TLS NO, and the config on a tie (it has the details).
        (Some(demand), _) if demand.mode >= config_mode || try_tls_no.is_some() => {
            (demand.mode, source_of(demand.entry))
        }
        (_, Some(entry)) => (TlsMode::Off, source_of(entry)),
        _ => (config_mode, PolicySource::Config),
    }
}

/// Field by field, the stricter; the first `+CN` name stays (`TLS_Srv` comes first).
fn merge(merged: Requirements, next: &Requirements) -> Requirements {
    Requirements {
        verify: merged.verify || next.verify,
        min_bits: merged.min_bits.max(next.min_bits),
        common_name: merged.common_name.or_else(|| next.common_name.clone()),
        permanent_failure: merged.permanent_failure || next.permanent_failure,
    }
}

/// What `Try_TLS: NO` overrode, or what overrode it.
fn override_notes(
    config_mode: TlsMode,
    mode: TlsMode,
    try_tls_no: Option<&Entry>,
    deciding: Option<&Demand<'_>>,
) -> Vec<PolicyNote> {
    let Some(entry) = try_tls_no else {
        return Vec::new();
    };
    match deciding {
        Some(demand) => vec![PolicyNote::TryTlsOverridden {
            line: entry.line,
            by: demand.entry.tag,
            by_line: demand.entry.line,
        }],
        None if config_mode >= TlsMode::Required && mode == TlsMode::Off => {
            vec![PolicyNote::ConfigOverridden {
                config: config_mode,
                line: entry.line,
            }]
        }
        None => Vec::new(),
    }
}

/// The `+` extensions of an entry that [`super::TlsPolicy::check`] cannot check.
fn unenforced(entry: &Entry) -> Vec<PolicyNote> {
    let Value::TlsRequirement(requirement) = &entry.value else {
        return Vec::new();
    };
    let subject = requirement.subject.as_ref().map(|s| format!("CS:{s}"));
    let issuer = requirement.issuer.as_ref().map(|i| format!("CI:{i}"));
    subject
        .into_iter()
        .chain(issuer)
        .chain(requirement.extensions.iter().cloned())
        .map(|extension| PolicyNote::UnenforcedExtension {
            tag: entry.tag,
            line: entry.line,
            extension,
        })
        .collect()
}

fn source_of(entry: &Entry) -> PolicySource {
    PolicySource::Access {
        tag: entry.tag,
        key: entry.key.clone(),
        line: entry.line,
    }
}

fn step(tag: Tag, lookup: Lookup<'_>) -> LookupStep {
    let matched = lookup.matched.map(|entry| {
        let key = format!("{}:{}", entry.tag, entry.key);
        (key, entry.line, entry.value.to_string())
    });
    LookupStep {
        tag,
        keys: lookup.into_keys(),
        matched,
    }
}
