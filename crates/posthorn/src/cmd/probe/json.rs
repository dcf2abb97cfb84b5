//! `posthorn probe --json`: the same facts as the human form, as one object for scripts.

use posthorn_delivery::probe::{
    AddressProbe, ClientIdentity, HopFacts, ProbeReport, RouteFacts, SessionFacts, StartTlsStep,
    TlsFacts, Verdict,
};
use posthorn_delivery::route::RouteSource;
use posthorn_policy::{LookupStep, PolicySource, TlsPolicy};
use posthorn_proto::Reply;
use posthorn_tls::CertificateInfo;
use serde_json::{json, Value};

use super::render::date;
use super::ProbeContext;

pub(crate) fn report(report: &ProbeReport, context: &ProbeContext<'_>) -> Value {
    let (route, route_error) = match &report.route {
        Ok(route) => (route_json(route), Value::Null),
        Err(failure) => (
            Value::Null,
            json!({ "permanent": failure.permanent, "reason": failure.reason }),
        ),
    };
    let identity = report.client_certificate.as_ref();
    json!({
        "target": report.target,
        "config": {
            "starttls": context.starttls,
            "tls_failure": context.tls_failure,
            "plaintext_retry": context.plaintext_retry,
            "access_map": context.access_map.map(|path| path.to_string_lossy()),
            "timeout_seconds": {
                "connect": context.timeouts.connect.as_secs(),
                "reply": context.timeouts.reply.as_secs(),
                "handshake": context.timeouts.handshake.as_secs(),
            },
        },
        "client_certificate": identity.map(identity_json),
        "route": route,
        "route_error": route_error,
        "addresses": report.addresses.iter().map(|probe| address_json(probe, identity)).collect::<Vec<_>>(),
        "answered": report.any_answered(),
        "overall": verdict_json(&report.overall),
    })
}

fn identity_json(identity: &ClientIdentity) -> Value {
    json!({ "subject": identity.subject, "names": identity.names })
}

fn route_json(route: &RouteFacts) -> Value {
    json!({
        "source": route.source.map(source_name),
        "mailertable_line": match route.source {
            Some(RouteSource::Mailertable { line }) => Some(line),
            _ => None,
        },
        "hops": route.hops.iter().map(hop_json).collect::<Vec<_>>(),
        "total_hops": route.total_hops,
    })
}

fn source_name(source: RouteSource) -> &'static str {
    match source {
        RouteSource::Mx => "mx",
        RouteSource::ImplicitMx => "implicit_mx",
        RouteSource::Mailertable { .. } => "mailertable",
        RouteSource::Smarthost => "smarthost",
        RouteSource::AddressLiteral => "address_literal",
    }
}

fn hop_json(hop: &HopFacts) -> Value {
    json!({
        "host": hop.host,
        "port": hop.port,
        "preference": hop.preference,
        "addresses": hop.addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "total_addresses": hop.total_addresses,
    })
}

fn verdict_json(verdict: &Verdict) -> Value {
    json!({ "kind": verdict.kind(), "delivers": verdict.delivers(), "text": verdict.to_string() })
}

fn address_json(probe: &AddressProbe, identity: Option<&ClientIdentity>) -> Value {
    json!({
        "host": probe.host,
        "ip": probe.address.ip().to_string(),
        "port": probe.address.port(),
        "preference": probe.preference,
        "policy": policy_json(&probe.policy),
        "remembered_broken": probe.remembered,
        "session": session_json(&probe.session, identity),
        "fallback": probe.fallback.as_ref().map(|fallback| session_json(fallback, identity)),
        "verdict": verdict_json(&probe.verdict),
    })
}

fn policy_json(policy: &TlsPolicy) -> Value {
    let source = match &policy.source {
        PolicySource::Config => json!({ "kind": "config" }),
        PolicySource::Access { tag, key, line } => {
            json!({ "kind": "access", "tag": tag.name(), "key": key, "line": line })
        }
    };
    json!({
        "mode": policy.mode.name(),
        "policy": policy.label(),
        "source": source,
        "lookups": policy.trace.iter().map(step_json).collect::<Vec<_>>(),
        "allows_plaintext": policy.allows_plaintext(),
        "requires_tls": policy.requires_tls(),
        "notes": policy.notes.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

fn step_json(step: &LookupStep) -> Value {
    let matched = (step.matched.as_ref())
        .map(|(key, line, value)| json!({ "key": key, "line": line, "value": value }));
    json!({ "tag": step.tag.name(), "tried": step.tried(), "matched": matched })
}

fn session_json(session: &SessionFacts, identity: Option<&ClientIdentity>) -> Value {
    json!({
        "connect_error": session.connect_error,
        "banner": session.banner.as_ref().map(ToString::to_string),
        "ehlo": session.ehlo.as_ref().map(ehlo_json),
        "failure": session.failure,
        "starttls": starttls_json(&session.starttls, identity),
    })
}

fn ehlo_json(reply: &Reply) -> Value {
    let lines: Vec<&str> = reply.lines.iter().map(|line| line.as_ref()).collect();
    json!({
        "code": reply.code,
        "greeting": lines.first(),
        "keywords": lines.get(1..).unwrap_or_default(),
    })
}

fn starttls_json(step: &StartTlsStep, identity: Option<&ClientIdentity>) -> Value {
    let (result, reply, tls, after) = match step {
        StartTlsStep::NotAttempted => ("not_attempted", None, None, None),
        StartTlsStep::NotOffered => ("not_offered", None, None, None),
        StartTlsStep::Refused(reply) => ("refused", Some(reply.to_string()), None, None),
        StartTlsStep::HandshakeFailed { reply, .. } => {
            ("handshake_failed", Some(reply.clone()), None, None)
        }
        StartTlsStep::Established { reply, tls, after } => {
            let result = if after.is_ok() {
                "established"
            } else {
                "broken_after_handshake"
            };
            (
                result,
                Some(reply.clone()),
                Some(tls_json(tls, identity)),
                Some(after),
            )
        }
    };
    json!({
        "result": result,
        "reply": reply,
        "failure": step.failure(),
        "failure_verify": step.failure_verify().map(|verify| verify.to_string()),
        "tls": tls,
        "ehlo_over_tls": after.and_then(|after| after.as_ref().ok()).map(ehlo_json),
    })
}

fn tls_json(tls: &TlsFacts, identity: Option<&ClientIdentity>) -> Value {
    let sends = match (tls.client_certificate_requested, identity) {
        (true, Some(identity)) => identity_json(identity),
        _ => Value::Null,
    };
    json!({
        "version": tls.version,
        "cipher": tls.cipher,
        "bits": tls.bits,
        "verify": tls.verify.to_string(),
        "verify_error": tls.verify_error,
        "chain": tls.chain.iter().map(certificate_json).collect::<Vec<_>>(),
        "client_certificate_requested": tls.client_certificate_requested,
        "client_certificate_sent": sends,
    })
}

fn certificate_json(certificate: &Result<CertificateInfo, String>) -> Value {
    match certificate {
        Ok(info) => json!({
            "subject": info.subject,
            "names": info.names,
            "issuer": info.issuer,
            "not_before": date(info.not_before),
            "not_after": date(info.not_after),
            "sha256": info.sha256_fingerprint,
        }),
        Err(reason) => json!({ "error": reason }),
    }
}
