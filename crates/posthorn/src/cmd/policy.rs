//! `posthorn policy HOST-OR-DOMAIN`: which outbound TLS policy applies to a destination
//! and why — every access-map key tried per tag, the one that matched (file:line and
//! value), the resulting mode and whether a failed handshake falls back to plaintext.
//!
//! The decision is `posthorn_policy::outbound_policy`, the very function delivery uses;
//! this file only loads the config and map and prints. It makes no DNS lookup: IP keys
//! are tried only for `--ip` or an address given as the destination.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use posthorn_config::TlsFailure;
use posthorn_policy::{
    outbound_policy, AccessMap, Destination, LookupStep, PolicySource, Requirements, TlsMode,
    TlsPolicy,
};
use serde_json::{json, Value};

use super::load_config;
use crate::cli::PolicyArgs;

/// Everything the explanation shows, gathered so that printing is a pure function.
struct Explanation<'a> {
    destination: Destination<'a>,
    starttls: TlsMode,
    tls_failure: TlsFailure,
    /// The access map's file; `None` when `[maps] access` is not set.
    map_path: Option<&'a Path>,
    policy: TlsPolicy,
}

pub fn run(args: PolicyArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.config.as_deref())?;
    let access = match &config.maps.access {
        Some(path) => AccessMap::load(path)?,
        None => AccessMap::default(),
    };
    let host = args.destination.trim();
    let destination = Destination {
        host,
        ip: args.ip,
        recipient_domain: args.rcpt_domain.as_deref().unwrap_or(host),
    };
    let starttls = TlsMode::from(config.outbound.starttls);
    let explanation = Explanation {
        destination,
        starttls,
        tls_failure: config.outbound.tls_failure,
        map_path: config.maps.access.as_deref(),
        policy: outbound_policy(starttls, &access, &destination),
    };
    let output = if args.json {
        format!("{:#}\n", to_json(&explanation))
    } else {
        render(&explanation)
    };
    write_stdout(&output)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the whole output; a reader that went away (`| head`) is not an error.
fn write_stdout(output: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(output.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result.context("writing to stdout"),
    }
}

fn tls_failure_name(failure: TlsFailure) -> &'static str {
    match failure {
        TlsFailure::Plaintext => "plaintext",
        TlsFailure::Defer => "defer",
    }
}

/// The human form (see the module doc).
fn render(explanation: &Explanation<'_>) -> String {
    let mut out = String::new();
    let destination = &explanation.destination;
    let _ = writeln!(out, "destination: {}", describe_destination(destination));
    let _ = writeln!(out, "recipient domain: {}", destination.recipient_domain);
    let _ = writeln!(
        out,
        "config: outbound.starttls = {}, tls_failure = {}",
        explanation.starttls,
        tls_failure_name(explanation.tls_failure)
    );
    let _ = match explanation.map_path {
        Some(path) => writeln!(out, "access map: {}", path.display()),
        None => writeln!(out, "access map: none ([maps] access is not set)"),
    };
    for step in &explanation.policy.trace {
        let _ = writeln!(out, "{}", render_step(step, explanation.map_path));
    }
    if let Some(requirements) = describe_requirements(&explanation.policy.requirements) {
        let _ = writeln!(out, "requirements: {requirements}");
    }
    for note in &explanation.policy.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let policy = &explanation.policy;
    let _ = writeln!(
        out,
        "result: {} ({}): {}",
        policy.mode,
        policy.label(),
        summary(explanation)
    );
    out
}

fn describe_destination(destination: &Destination<'_>) -> String {
    match (destination.ip, destination.address()) {
        (Some(ip), _) => format!("{} [{ip}]", destination.host),
        (None, Some(_)) => format!("{} (an address: its IP keys are tried)", destination.host),
        (None, None) => format!("{} (no IP given: IP keys not tried)", destination.host),
    }
}

/// `Try_TLS:  tried Try_TLS:a, Try_TLS:  -> matched at FILE:12: NO`
/// One tag's lookup: keys tried and what matched (shared with `probe`).
pub(super) fn render_step(step: &LookupStep, map_path: Option<&Path>) -> String {
    let label = format!("{}:", step.tag);
    let outcome = match &step.matched {
        Some((_, line, value)) => format!("matched at {}: {value}", location(map_path, *line)),
        None => "no match".to_owned(),
    };
    format!("{label:<10}tried {}  -> {outcome}", step.tried().join(", "))
}

fn location(map_path: Option<&Path>, line: usize) -> String {
    let path = map_path.map_or_else(|| "access".into(), Path::to_string_lossy);
    format!("{path}:{line}")
}

/// What a requiring policy asks of the session (shared with `probe`).
pub(super) fn describe_requirements(requirements: &Requirements) -> Option<String> {
    if !requirements.requires_tls() {
        return None;
    }
    let mut parts = vec![if requirements.verify {
        "a verified certificate".to_owned()
    } else {
        "TLS".to_owned()
    }];
    if let Some(bits) = requirements.min_bits {
        parts.push(format!("at least {bits} cipher bits"));
    }
    if let Some(name) = &requirements.common_name {
        parts.push(format!("the certificate name {name}"));
    }
    let failure = if requirements.permanent_failure {
        "unmet: bounce (5.7.x, PERM+)"
    } else {
        "unmet: defer (4.7.x)"
    };
    Some(format!("{}; {failure}", parts.join(", ")))
}

/// Whether a failed handshake reconnects without TLS: the policy must allow it and
/// `outbound.tls_failure` must ask for it.
fn falls_back_to_plaintext(explanation: &Explanation<'_>) -> bool {
    explanation.policy.allows_plaintext() && explanation.tls_failure == TlsFailure::Plaintext
}

/// What happens at delivery, in one sentence.
fn summary(explanation: &Explanation<'_>) -> String {
    policy_summary(&explanation.policy, falls_back_to_plaintext(explanation))
}

/// What `policy` does at delivery, given whether a failed handshake may go on in
/// plaintext (shared with `probe`).
pub(super) fn policy_summary(policy: &TlsPolicy, tls_failure_plaintext: bool) -> String {
    let unmet = if policy.requirements.permanent_failure {
        "the message bounces (5.7.x)"
    } else {
        "the message is deferred (4.7.x)"
    };
    match policy.mode {
        TlsMode::Off => "STARTTLS is not sent to this host".to_owned(),
        TlsMode::Opportunistic if policy.allows_plaintext() && tls_failure_plaintext => {
            "STARTTLS when offered; a failed handshake falls back to plaintext".to_owned()
        }
        TlsMode::Opportunistic => {
            "STARTTLS when offered; a failed handshake defers the message (tls_failure = defer)"
                .to_owned()
        }
        TlsMode::Required => format!(
            "TLS is required (the certificate is not verified): \
             otherwise {unmet}, never sent in plaintext"
        ),
        TlsMode::Verified => format!(
            "TLS with a verified certificate is required: \
             otherwise {unmet}, never sent in plaintext"
        ),
    }
}

fn to_json(explanation: &Explanation<'_>) -> Value {
    let policy = &explanation.policy;
    let destination = &explanation.destination;
    let requirements = &policy.requirements;
    let lookups: Vec<Value> = (policy.trace.iter())
        .map(|step| step_json(step, explanation.map_path))
        .collect();
    json!({
        "destination": {
            "host": destination.host,
            "ip": destination.ip.map(|ip| ip.to_string()),
            "ip_keys_tried": destination.address().is_some(),
            "recipient_domain": destination.recipient_domain,
        },
        "config": {
            "starttls": explanation.starttls.name(),
            "tls_failure": tls_failure_name(explanation.tls_failure),
        },
        "access_map": explanation.map_path.map(|path| path.to_string_lossy()),
        "lookups": lookups,
        "mode": policy.mode.name(),
        "policy": policy.label(),
        "source": source_json(&policy.source),
        "requirements": {
            "verify": requirements.verify,
            "min_bits": requirements.min_bits,
            "common_name": requirements.common_name,
            "permanent_failure": requirements.permanent_failure,
        },
        "sends_starttls": policy.sends_starttls(),
        "allows_plaintext": policy.allows_plaintext(),
        "plaintext_fallback": falls_back_to_plaintext(explanation),
        "notes": policy.notes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "summary": summary(explanation),
    })
}

fn step_json(step: &LookupStep, map_path: Option<&Path>) -> Value {
    let matched = step.matched.as_ref().map(|(key, line, value)| {
        json!({
            "key": key,
            "file": map_path.map(|path| path.to_string_lossy()),
            "line": line,
            "value": value,
        })
    });
    json!({ "tag": step.tag.name(), "tried": step.tried(), "matched": matched })
}

fn source_json(source: &PolicySource) -> Value {
    match source {
        PolicySource::Config => json!({ "kind": "config" }),
        PolicySource::Access { tag, key, line } => json!({
            "kind": "access",
            "tag": tag.name(),
            "key": key,
            "line": line,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    const MAP_PATH: &str = "/etc/mail/access";

    /// The explanation for `host` with the map `text` (at /etc/mail/access, or no map).
    fn explain(text: Option<&str>, host: &str, ip: Option<IpAddr>, rcpt: &str) -> String {
        explain_with(
            TlsMode::Opportunistic,
            TlsFailure::Plaintext,
            text,
            host,
            ip,
            rcpt,
        )
        .0
    }

    fn explain_with(
        starttls: TlsMode,
        tls_failure: TlsFailure,
        text: Option<&str>,
        host: &str,
        ip: Option<IpAddr>,
        rcpt: &str,
    ) -> (String, Value) {
        let map_path = text.map(|_| Path::new(MAP_PATH));
        let access = match (text, map_path) {
            (Some(text), Some(path)) => AccessMap::parse(text, path).unwrap(),
            _ => AccessMap::default(),
        };
        let destination = Destination {
            host,
            ip,
            recipient_domain: rcpt,
        };
        let explanation = Explanation {
            destination,
            starttls,
            tls_failure,
            map_path,
            policy: outbound_policy(starttls, &access, &destination),
        };
        (render(&explanation), to_json(&explanation))
    }

    #[test]
    fn try_tls_no_for_a_parent_domain() {
        let map = "# broken STARTTLS\n".repeat(11) + "Try_TLS:outlook.com NO\n";
        let text = explain(Some(&map), "mx1.mail.outlook.com", None, "outlook.com");
        let expected = "\
destination: mx1.mail.outlook.com (no IP given: IP keys not tried)
recipient domain: outlook.com
config: outbound.starttls = opportunistic, tls_failure = plaintext
access map: /etc/mail/access
Try_TLS:  tried Try_TLS:mx1.mail.outlook.com, Try_TLS:mail.outlook.com, Try_TLS:outlook.com  -> matched at /etc/mail/access:12: NO
TLS_Srv:  tried TLS_Srv:mx1.mail.outlook.com, TLS_Srv:mail.outlook.com, TLS_Srv:outlook.com, TLS_Srv:com, TLS_Srv:  -> no match
TLS_Rcpt: tried TLS_Rcpt:outlook.com, TLS_Rcpt:com, TLS_Rcpt:  -> no match
result: off (try_tls:access:12): STARTTLS is not sent to this host
";
        assert_eq!(text, expected);
    }

    #[test]
    fn no_map_and_an_ip_opportunistic_with_fallback() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let text = explain(None, "mx.example.com", Some(ip), "example.com");
        assert!(
            text.starts_with("destination: mx.example.com [192.0.2.7]\n"),
            "{text}"
        );
        assert!(
            text.contains("access map: none ([maps] access is not set)\n"),
            "{text}"
        );
        assert!(text.contains(
            "Try_TLS:  tried Try_TLS:mx.example.com, Try_TLS:example.com, Try_TLS:com, \
             Try_TLS:192.0.2.7, Try_TLS:192.0.2, Try_TLS:192.0, Try_TLS:192, Try_TLS:  -> no match\n"
        ), "{text}");
        assert!(
            text.ends_with(
                "result: opportunistic (opportunistic): STARTTLS when offered; \
             a failed handshake falls back to plaintext\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn an_address_destination_says_its_ip_keys_are_tried() {
        let text = explain(None, "[192.0.2.7]", None, "[192.0.2.7]");
        assert!(text.starts_with("destination: [192.0.2.7] (an address: its IP keys are tried)\n"));
    }

    #[test]
    fn requirements_and_notes_are_shown() {
        let map = "Try_TLS:example.com NO\nTLS_Rcpt:example.org PERM+VERIFY:256+CN+CS:x\n";
        let text = explain(Some(map), "mx.example.com", None, "example.org");
        let tail = "\
TLS_Rcpt: tried TLS_Rcpt:example.org  -> matched at /etc/mail/access:2: PERM+VERIFY:256+CN+CS:x
requirements: a verified certificate, at least 256 cipher bits, the certificate name mx.example.com; unmet: bounce (5.7.x, PERM+)
note: Try_TLS NO (line 1) is overridden: TLS_Rcpt (line 2) requires TLS, and mail never goes out in clear where TLS is required
note: TLS_Rcpt (line 2): +CS:x is not checked by Posthorn
result: verified (tls_rcpt:access:2): TLS with a verified certificate is required: otherwise the message bounces (5.7.x), never sent in plaintext
";
        assert!(text.ends_with(tail), "{text}");
    }

    #[test]
    fn defer_on_failure_is_said_and_in_json() {
        let (text, json) = explain_with(
            TlsMode::Opportunistic,
            TlsFailure::Defer,
            None,
            "mx.example.com",
            None,
            "example.com",
        );
        assert!(text.contains("tls_failure = defer"), "{text}");
        assert!(
            text.contains("a failed handshake defers the message"),
            "{text}"
        );
        assert_eq!(json["allows_plaintext"], true);
        assert_eq!(json["plaintext_fallback"], false);
    }

    #[test]
    fn json_carries_the_trace_the_match_and_the_decision() {
        let map = "\n\nTLS_Srv:192.0.2 ENCR:128\n";
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let (_, json) = explain_with(
            TlsMode::Opportunistic,
            TlsFailure::Plaintext,
            Some(map),
            "mx.example.com",
            Some(ip),
            "example.com",
        );
        assert_eq!(json["destination"]["ip"], "192.0.2.7");
        assert_eq!(json["destination"]["ip_keys_tried"], true);
        assert_eq!(json["config"]["starttls"], "opportunistic");
        assert_eq!(json["access_map"], MAP_PATH);
        assert_eq!(json["lookups"][1]["tag"], "TLS_Srv");
        assert_eq!(json["lookups"][1]["tried"][4], "TLS_Srv:192.0.2");
        assert_eq!(
            json["lookups"][1]["matched"],
            json!({"key": "TLS_Srv:192.0.2", "file": MAP_PATH, "line": 3, "value": "ENCR:128"})
        );
        assert_eq!(json["lookups"][0]["matched"], Value::Null);
        assert_eq!(json["mode"], "required");
        assert_eq!(json["policy"], "tls_srv:access:3");
        assert_eq!(
            json["source"],
            json!({"kind": "access", "tag": "TLS_Srv", "key": "192.0.2", "line": 3})
        );
        assert_eq!(json["requirements"]["min_bits"], 128);
        assert_eq!(json["sends_starttls"], true);
        assert_eq!(json["allows_plaintext"], false);
        assert_eq!(json["plaintext_fallback"], false);
    }

    #[test]
    fn config_modes_map_one_to_one() {
        use posthorn_config::StartTlsMode;
        let cases = [
            (StartTlsMode::Off, TlsMode::Off),
            (StartTlsMode::Opportunistic, TlsMode::Opportunistic),
            (StartTlsMode::Required, TlsMode::Required),
            (StartTlsMode::Verified, TlsMode::Verified),
        ];
        for (config, mode) in cases {
            assert_eq!(TlsMode::from(config), mode);
        }
    }
}
