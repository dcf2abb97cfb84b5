//! The human form of a probe report: stable line by line (no timestamps but the
//! certificates' own dates, nothing in random order), so tests pin it with golden files.
//! The policy lines use the words of `posthorn policy`.

use std::fmt::Write as _;
use std::time::SystemTime;

use posthorn_delivery::probe::{
    AddressProbe, ClientIdentity, ProbeReport, RouteFacts, SessionFacts, StartTlsStep, TlsFacts,
    MAX_ADDRESSES, MAX_HOPS,
};
use posthorn_delivery::route::RouteSource;
use posthorn_policy::TlsPolicy;
use posthorn_proto::Reply;
use posthorn_tls::CertificateInfo;

use super::{seconds, ProbeContext};
use crate::cmd::policy::{describe_requirements, policy_summary, render_step};

/// The whole report.
pub(crate) fn report(report: &ProbeReport, context: &ProbeContext<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "probe: {}", report.target);
    header(&mut out, context);
    let _ = writeln!(
        out,
        "client certificate: {}",
        configured_certificate(report.client_certificate.as_ref())
    );
    match &report.route {
        Ok(route) => route_lines(&mut out, route),
        Err(failure) => {
            let kind = if failure.permanent {
                "fails"
            } else {
                "fails for now"
            };
            let _ = writeln!(out, "route: {kind}: {}", failure.reason);
        }
    }
    for probe in &report.addresses {
        out.push('\n');
        address(&mut out, probe, report.client_certificate.as_ref(), context);
    }
    out.push('\n');
    let _ = writeln!(out, "overall: {}", report.overall);
    out
}

fn header(out: &mut String, context: &ProbeContext<'_>) {
    let _ = writeln!(
        out,
        "config: outbound.starttls = {}, tls_failure = {}, plaintext_retry = {}",
        context.starttls, context.tls_failure, context.plaintext_retry
    );
    let _ = match context.access_map {
        Some(path) => writeln!(out, "access map: {}", path.display()),
        None => writeln!(out, "access map: none ([maps] access is not set)"),
    };
    let timeouts = &context.timeouts;
    let _ = writeln!(
        out,
        "timeouts: connect {}, each reply {}, handshake {}",
        seconds(timeouts.connect),
        seconds(timeouts.reply),
        seconds(timeouts.handshake)
    );
}

fn configured_certificate(identity: Option<&ClientIdentity>) -> String {
    match identity {
        Some(identity) => format!(
            "{} (names: {})",
            identity.subject,
            identity.names.join(", ")
        ),
        None => "none configured".to_owned(),
    }
}

fn route_lines(out: &mut String, route: &RouteFacts) {
    let _ = writeln!(out, "route: {}", route_source(route.source));
    for hop in &route.hops {
        let preference = hop
            .preference
            .map(|p| format!(" (MX {p})"))
            .unwrap_or_default();
        let addresses: Vec<String> = hop.addresses.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  {}{preference} port {}: {}",
            hop.host,
            hop.port,
            addresses.join(", ")
        );
        if hop.total_addresses > hop.addresses.len() {
            let _ = writeln!(
                out,
                "  note: {} has {} addresses; probing the first {MAX_ADDRESSES}",
                hop.host, hop.total_addresses
            );
        }
    }
    if route.total_hops > route.hops.len() {
        let _ = writeln!(
            out,
            "  note: the route has {} hosts; probing the first {MAX_HOPS}",
            route.total_hops
        );
    }
}

fn route_source(source: Option<RouteSource>) -> String {
    match source {
        None => "as given (no MX lookup)".to_owned(),
        Some(RouteSource::Mx) => {
            "MX records (equal preferences by name here; delivery shuffles them)".to_owned()
        }
        Some(RouteSource::ImplicitMx) => "no MX records: the domain's own addresses".to_owned(),
        Some(RouteSource::Mailertable { line }) => format!("mailertable line {line}"),
        Some(RouteSource::Smarthost) => "outbound.smarthost".to_owned(),
        Some(RouteSource::AddressLiteral) => "the address itself".to_owned(),
    }
}

fn address(
    out: &mut String,
    probe: &AddressProbe,
    identity: Option<&ClientIdentity>,
    context: &ProbeContext<'_>,
) {
    let preference = probe
        .preference
        .map(|p| format!(" (MX {p})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "== {} [{}]:{}{preference}",
        probe.host,
        probe.address.ip(),
        probe.address.port()
    );
    policy_lines(out, &probe.policy, context);
    let _ = match &probe.remembered {
        Some(reason) => writeln!(out, "broken-TLS memory: remembered ({reason})"),
        None => writeln!(out, "broken-TLS memory: not remembered"),
    };
    session_lines(out, &probe.session, "");
    starttls_lines(out, &probe.session.starttls, identity);
    if let Some(fallback) = &probe.fallback {
        let _ = writeln!(out, "plaintext reconnect (what the fallback meets):");
        session_lines(out, fallback, "  ");
    }
    let _ = writeln!(out, "verdict: {}", probe.verdict);
}

/// `posthorn policy`'s trace, requirements, notes and result lines, indented.
fn policy_lines(out: &mut String, policy: &TlsPolicy, context: &ProbeContext<'_>) {
    let _ = writeln!(out, "policy:");
    for step in &policy.trace {
        let _ = writeln!(out, "  {}", render_step(step, context.access_map));
    }
    if let Some(requirements) = describe_requirements(&policy.requirements) {
        let _ = writeln!(out, "  requirements: {requirements}");
    }
    for note in &policy.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    let _ = writeln!(
        out,
        "  result: {} ({}): {}",
        policy.mode,
        policy.label(),
        policy_summary(policy, context.tls_failure == "plaintext")
    );
}

/// Connect, banner, EHLO and how the session stopped, each line after `indent`.
fn session_lines(out: &mut String, session: &SessionFacts, indent: &str) {
    let _ = match &session.connect_error {
        Some(error) => writeln!(out, "{indent}connect: {error}"),
        None => writeln!(out, "{indent}connect: ok"),
    };
    if let Some(banner) = &session.banner {
        let _ = writeln!(out, "{indent}banner: {banner}");
    }
    if let Some(ehlo) = &session.ehlo {
        ehlo_lines(out, "EHLO", ehlo, indent);
    }
    if let Some(failure) = &session.failure {
        let _ = writeln!(out, "{indent}session ended: {failure}");
    }
}

/// `EHLO: 250 first line` and the keywords, in the order the server sent them.
fn ehlo_lines(out: &mut String, label: &str, reply: &Reply, indent: &str) {
    let first = reply.lines.first().map(|line| line.as_ref()).unwrap_or("");
    let _ = writeln!(out, "{indent}{label}: {} {first}", reply.code);
    let keywords: Vec<&str> = reply
        .lines
        .iter()
        .skip(1)
        .map(|line| line.as_ref())
        .collect();
    let keywords = if keywords.is_empty() {
        "(none)".to_owned()
    } else {
        keywords.join(", ")
    };
    let _ = writeln!(out, "{indent}  keywords: {keywords}");
}

fn starttls_lines(out: &mut String, step: &StartTlsStep, identity: Option<&ClientIdentity>) {
    let _ = match step {
        StartTlsStep::NotAttempted => return,
        StartTlsStep::NotOffered => writeln!(out, "STARTTLS: not offered"),
        StartTlsStep::Refused(reply) => writeln!(out, "STARTTLS: {reply} (verify=PROTOCOL)"),
        StartTlsStep::HandshakeFailed { reply, reason } => {
            let _ = writeln!(out, "STARTTLS: {}", reply_text(reply));
            writeln!(out, "TLS: {reason} (verify=SOFTWARE)")
        }
        StartTlsStep::Established { reply, tls, after } => {
            let _ = writeln!(out, "STARTTLS: {}", reply_text(reply));
            tls_lines(out, tls, identity);
            match after {
                Ok(ehlo) => {
                    ehlo_lines(out, "EHLO over TLS", ehlo, "");
                    Ok(())
                }
                Err(reason) => writeln!(
                    out,
                    "EHLO over TLS: failed: {reason} (TLS broke before MAIL: verify=SOFTWARE)"
                ),
            }
        }
    };
}

fn reply_text(reply: &str) -> &str {
    if reply.is_empty() {
        "(no reply)"
    } else {
        reply
    }
}

fn tls_lines(out: &mut String, tls: &TlsFacts, identity: Option<&ClientIdentity>) {
    let _ = writeln!(
        out,
        "TLS: {}, cipher {}, {} bits",
        tls.version, tls.cipher, tls.bits
    );
    if tls.chain.is_empty() {
        let _ = writeln!(out, "certificate chain: none presented");
    }
    for (index, certificate) in tls.chain.iter().enumerate() {
        certificate_lines(out, index, certificate);
    }
    let _ = match &tls.verify_error {
        Some(reason) => writeln!(out, "verify: {} ({reason})", tls.verify),
        None => writeln!(out, "verify: {}", tls.verify),
    };
    let requested = if tls.client_certificate_requested {
        "yes"
    } else {
        "no"
    };
    let _ = writeln!(out, "client certificate requested: {requested}");
    let _ = writeln!(out, "Posthorn sends: {}", client_sends(tls, identity));
}

/// What goes back to a CertificateRequest: the configured certificate, or nothing.
fn client_sends(tls: &TlsFacts, identity: Option<&ClientIdentity>) -> String {
    match (tls.client_certificate_requested, identity) {
        (true, Some(identity)) => format!(
            "the configured certificate {}",
            configured_certificate(Some(identity))
        ),
        (false, Some(_)) => "nothing: not requested (one is configured)".to_owned(),
        (_, None) => "nothing: none configured".to_owned(),
    }
}

fn certificate_lines(
    out: &mut String,
    index: usize,
    certificate: &Result<CertificateInfo, String>,
) {
    let info = match certificate {
        Ok(info) => info,
        Err(reason) => {
            let _ = writeln!(out, "certificate {index}: cannot be read: {reason}");
            return;
        }
    };
    let _ = writeln!(out, "certificate {index}: subject {}", info.subject);
    let _ = writeln!(out, "  names (SAN, else CN): {}", info.names.join(", "));
    let _ = writeln!(out, "  issuer: {}", info.issuer);
    let _ = writeln!(out, "  not before: {}", date(info.not_before));
    let _ = writeln!(out, "  not after:  {}", date(info.not_after));
    let _ = writeln!(out, "  SHA-256: {}", info.sha256_fingerprint);
}

pub(crate) fn date(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}
