//! Certificate findings: the server pair, the client pair and the CA bundle.
//!
//! A pair is checked in the order an administrator fixes it: both files set, the
//! certificate readable and parsable, still valid, issued for the right name, and the
//! key belonging to it. The client certificate's name matters most: Microsoft's mail
//! servers drop connections whose client certificate does not name the EHLO host
//! (the seed of this check), so it must cover `hostname`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use posthorn_config::TlsSettings;
use posthorn_tls::{
    describe, load_chain, load_key_pair, CertificateInfo, CertifiedKeyPaths, TlsError,
};

use super::finding::{Finding, Location, Severity};
use super::source::ConfigSource;

/// Certificates expiring sooner than this are warned about.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Which pair of `[tls]` keys is checked, and what it is called in findings.
#[derive(Debug, Clone, Copy)]
pub struct PairKind {
    pub what: &'static str,
    pub certificate_key: &'static str,
    pub private_key_key: &'static str,
    pub client: bool,
}

pub const SERVER: PairKind = PairKind {
    what: "server certificate",
    certificate_key: "certificate",
    private_key_key: "private_key",
    client: false,
};

pub const CLIENT: PairKind = PairKind {
    what: "client certificate",
    certificate_key: "client_certificate",
    private_key_key: "client_private_key",
    client: true,
};

/// What the whole check needs to know besides the pair itself.
pub struct Context<'a> {
    pub source: &'a ConfigSource,
    /// The EHLO name (`hostname`).
    pub hostname: &'a str,
    pub now: SystemTime,
}

/// Findings for one certificate/key pair; none when neither key is set.
pub fn check_pair(kind: PairKind, tls: &TlsSettings, context: &Context<'_>) -> Vec<Finding> {
    let (certificate, key) = match kind.client {
        false => (&tls.certificate, &tls.private_key),
        true => (&tls.client_certificate, &tls.client_private_key),
    };
    match (certificate, key) {
        (None, None) => Vec::new(),
        (Some(_), None) => vec![incomplete(
            kind,
            kind.certificate_key,
            kind.private_key_key,
            context,
        )],
        (None, Some(_)) => vec![incomplete(
            kind,
            kind.private_key_key,
            kind.certificate_key,
            context,
        )],
        (Some(certificate), Some(key)) => {
            let paths = CertifiedKeyPaths {
                certificate: certificate.clone(),
                private_key: key.clone(),
            };
            check_files(kind, &paths, context)
        }
    }
}

fn incomplete(kind: PairKind, set: &str, missing: &str, context: &Context<'_>) -> Finding {
    Finding {
        severity: Severity::Error,
        check: "certificate-pair-incomplete",
        location: context.source.key("tls", set),
        problem: format!(
            "`tls.{set}` is set but `tls.{missing}` is not: the {} cannot be used",
            kind.what
        ),
        fix: format!("set `tls.{missing}` too, or remove `tls.{set}`"),
    }
}

fn check_files(kind: PairKind, paths: &CertifiedKeyPaths, context: &Context<'_>) -> Vec<Finding> {
    let leaf = load_chain(&paths.certificate).and_then(|chain| match chain.first() {
        Some(leaf) => describe(leaf),
        None => Err(TlsError::NoCertificate {
            path: paths.certificate.clone(),
        }),
    });
    let info = match leaf {
        Ok(info) => info,
        Err(error) => return vec![load_failure(kind, &paths.certificate, error)],
    };
    let mut findings = validity(kind, &paths.certificate, &info, context.now);
    findings.extend(name(kind, &paths.certificate, &info, context.hostname));
    if let Err(error) = load_key_pair(paths) {
        findings.push(load_failure(kind, &paths.private_key, error));
    }
    findings
}

fn file(path: &Path) -> Location {
    Location {
        file: path.display().to_string(),
        line: None,
    }
}

fn finding(
    severity: Severity,
    check: &'static str,
    path: &Path,
    problem: String,
    fix: String,
) -> Finding {
    Finding {
        severity,
        check,
        location: file(path),
        problem,
        fix,
    }
}

fn validity(kind: PairKind, path: &Path, info: &CertificateInfo, now: SystemTime) -> Vec<Finding> {
    let (what, key) = (kind.what, kind.certificate_key);
    let until = date(info.not_after);
    if info.not_after <= now {
        let problem = format!("the {what} expired on {until}");
        let fix = format!("renew it and point `tls.{key}` (and its key) at the new files");
        return vec![finding(
            Severity::Error,
            "certificate-expired",
            path,
            problem,
            fix,
        )];
    }
    let mut findings = Vec::new();
    let left = info.not_after.duration_since(now).unwrap_or_default();
    if left < EXPIRY_WARNING {
        let days = left.as_secs() / 86_400;
        let problem = format!("the {what} expires on {until}, in {days} days");
        let fix = "renew it before then (a renewed certificate is read on SIGHUP)".to_owned();
        findings.push(finding(
            Severity::Warning,
            "certificate-expiring",
            path,
            problem,
            fix,
        ));
    }
    if info.not_before > now {
        let problem = format!("the {what} is not valid before {}", date(info.not_before));
        let fix = "check this machine's clock, or wait until the certificate is valid".to_owned();
        findings.push(finding(
            Severity::Warning,
            "certificate-not-yet-valid",
            path,
            problem,
            fix,
        ));
    }
    findings
}

fn name(kind: PairKind, path: &Path, info: &CertificateInfo, hostname: &str) -> Option<Finding> {
    if info.covers(hostname) {
        return None;
    }
    let names = if info.names.is_empty() {
        "no name".to_owned()
    } else {
        info.names.join(", ")
    };
    let (check, problem, fix) = if kind.client {
        (
            "client-certificate-name",
            format!(
                "the client certificate is for {names}, which does not cover `hostname` {hostname}, \
                 the name we send in EHLO; receivers that ask for a client certificate may drop \
                 the connection without a word (Microsoft's outlook.com servers do: mail was \
                 refused until the certificate named the EHLO host)"
            ),
            format!(
                "get a client certificate whose subjectAltName includes {hostname} (a wildcard \
                 covers one label), or set `hostname` to a name it covers, or remove \
                 `tls.client_certificate` and `tls.client_private_key` to send no client certificate"
            ),
        )
    } else {
        (
            "server-certificate-name",
            format!(
                "the server certificate is for {names}, which does not cover `hostname` {hostname} \
                 (our banner and EHLO name); clients that verify will fail"
            ),
            format!("use a certificate whose subjectAltName includes {hostname}, or set `hostname` to a name it covers"),
        )
    };
    Some(finding(Severity::Warning, check, path, problem, fix))
}

/// A certificate, key or bundle that could not be used, worded for the person who fixes it.
fn load_failure(kind: PairKind, path: &Path, error: TlsError) -> Finding {
    let what = kind.what;
    let (check, problem, fix) = match &error {
        TlsError::Read { source, .. } => (
            "tls-file-unreadable",
            format!("cannot read this file of the {what}: {source}"),
            "check the path and that the user Posthorn runs as may read the file".to_owned(),
        ),
        TlsError::KeyMismatch { certificate, .. } => (
            "key-mismatch",
            format!("this private key does not belong to the {what} {}", certificate.display()),
            "use the key the certificate was issued for (compare `openssl x509 -noout -pubkey -in CERT` with `openssl pkey -pubout -in KEY`)".to_owned(),
        ),
        TlsError::UnusableKey { reason, .. } => (
            "key-unusable",
            format!("the private key of the {what} cannot be used: {reason}"),
            "use an ECDSA P-256/P-384, Ed25519 or RSA (2048 bits or more) key".to_owned(),
        ),
        TlsError::NoPrivateKey { .. } => (
            "key-missing",
            format!("this file holds no private key for the {what}"),
            "point the key setting at a PEM private key (PKCS#8, SEC1 or PKCS#1)".to_owned(),
        ),
        _ => (
            "certificate-invalid",
            format!("the {what} is unusable: {error}"),
            "point the setting at the PEM certificate chain as issued, leaf first".to_owned(),
        ),
    };
    finding(Severity::Error, check, path, problem, fix)
}

/// `tls.ca_bundle`: readable and holding at least one certificate.
pub fn check_ca_bundle(tls: &TlsSettings) -> Vec<Finding> {
    let Some(path) = &tls.ca_bundle else {
        return Vec::new();
    };
    match load_chain(path) {
        Ok(_) => Vec::new(),
        Err(error) => {
            let problem = format!("`tls.ca_bundle` is unusable: {error}");
            let fix = "point `tls.ca_bundle` at a PEM file of trust anchors (e.g. /etc/ssl/certs/ca-certificates.crt), or remove it to use the system store".to_owned();
            vec![finding(Severity::Error, "ca-bundle", path, problem, fix)]
        }
    }
}

fn date(time: SystemTime) -> String {
    DateTime::<Utc>::from(time)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

#[cfg(test)]
#[path = "certificates_tests.rs"]
mod tests;
