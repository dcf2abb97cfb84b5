//! A readable summary of one certificate, for `posthorn check`, `probe`, `serve`'s
//! start-up line and the logs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls_pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::time::ASN1Time;

use crate::TlsError;

/// What an administrator wants to know about a certificate at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The subject distinguished name, e.g. `CN=mx1.example.com`.
    pub subject: String,
    /// The names the certificate is valid for: the SAN DNS names, or the subject CN
    /// when there is no SAN DNS name (as pre-RFC 6125 clients and sendmail do).
    pub names: Vec<String>,
    /// The issuer distinguished name.
    pub issuer: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// Subject and issuer are the same name. The signature is not checked: this
    /// tells "self-signed" apart from "issued by a CA", it does not prove either.
    pub self_signed: bool,
    /// SHA-256 of the DER encoding, upper-case hex pairs joined by colons as
    /// `openssl x509 -fingerprint -sha256` prints it.
    pub sha256_fingerprint: String,
}

/// Parses `cert` and summarizes it.
pub fn describe(cert: &CertificateDer<'_>) -> Result<CertificateInfo, TlsError> {
    let unparsable = |reason: String| TlsError::UnparsableCertificate { reason };
    let (_, parsed) =
        X509Certificate::from_der(cert.as_ref()).map_err(|error| unparsable(error.to_string()))?;
    let names = names(&parsed).map_err(unparsable)?;
    Ok(CertificateInfo {
        subject: parsed.subject().to_string(),
        names,
        issuer: parsed.issuer().to_string(),
        not_before: system_time(&parsed.validity().not_before),
        not_after: system_time(&parsed.validity().not_after),
        self_signed: parsed.subject().as_raw() == parsed.issuer().as_raw(),
        sha256_fingerprint: fingerprint(cert.as_ref()),
    })
}

impl CertificateInfo {
    /// Whether one of [`CertificateInfo::names`] covers `host` (see [`name_covers`]).
    pub fn covers(&self, host: &str) -> bool {
        self.names.iter().any(|name| name_covers(name, host))
    }
}

/// Whether the certificate name `pattern` covers `host`, ignoring case and a
/// trailing dot. A wildcard `*.example.com` covers exactly one label in its place
/// (`mx.example.com`, not `example.com` nor `a.mx.example.com`), as RFC 6125 §6.4.3
/// and every TLS client have it; other uses of `*` match nothing.
pub fn name_covers(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.');
    let host = host.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(parent) if !parent.contains('*') => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest.eq_ignore_ascii_case(parent)),
        Some(_) => false,
        None => !pattern.contains('*') && pattern.eq_ignore_ascii_case(host),
    }
}

fn names(cert: &X509Certificate<'_>) -> Result<Vec<String>, String> {
    let san = cert
        .subject_alternative_name()
        .map_err(|error| format!("subjectAltName: {error}"))?;
    let dns_names: Vec<String> = san
        .iter()
        .flat_map(|extension| extension.value.general_names.iter())
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            _ => None,
        })
        .collect();
    if !dns_names.is_empty() {
        return Ok(dns_names);
    }
    Ok(cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .map(str::to_owned)
        .collect())
}

fn system_time(time: &ASN1Time) -> SystemTime {
    let seconds = time.timestamp();
    let offset = Duration::from_secs(seconds.unsigned_abs());
    if seconds >= 0 {
        UNIX_EPOCH + offset
    } else {
        UNIX_EPOCH - offset
    }
}

fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(params: rcgen::CertificateParams) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().expect("key");
        params.self_signed(&key).expect("sign").der().clone()
    }

    #[test]
    fn san_names_come_before_the_common_name() {
        let mut params =
            rcgen::CertificateParams::new(vec!["a.example".into(), "b.example".into()])
                .expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "cn.example");
        let info = describe(&certificate(params)).expect("describe");
        assert_eq!(info.names, ["a.example", "b.example"]);
        assert_eq!(info.subject, "CN=cn.example");
        assert!(info.self_signed);
    }

    #[test]
    fn common_name_is_used_without_san() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "only-cn.example");
        let info = describe(&certificate(params)).expect("describe");
        assert_eq!(info.names, ["only-cn.example"]);
    }

    #[test]
    fn fingerprint_is_sha256_of_the_der_in_openssl_form() {
        // SHA-256("abc") from FIPS 180-2, appendix B.1.
        assert_eq!(
            fingerprint(b"abc"),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:\
             B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[test]
    fn validity_dates_are_carried_over() {
        let mut params = rcgen::CertificateParams::new(vec!["x.example".into()]).expect("params");
        params.not_before = rcgen::date_time_ymd(2001, 2, 3);
        params.not_after = rcgen::date_time_ymd(2031, 4, 5);
        let info = describe(&certificate(params)).expect("describe");
        assert_eq!(
            info.not_before,
            UNIX_EPOCH + Duration::from_secs(981_158_400)
        );
        assert_eq!(
            info.not_after,
            UNIX_EPOCH + Duration::from_secs(1_933_113_600)
        );
    }

    #[test]
    fn names_cover_hosts_exactly_or_by_one_wildcard_label() {
        assert!(name_covers("mx1.example.com", "MX1.Example.COM."));
        assert!(!name_covers("mx.example.com", "mx1.example.com"));
        assert!(name_covers("*.example.com", "mx1.example.com"));
        assert!(name_covers("*.Example.com.", "mx1.example.COM"));
        assert!(!name_covers("*.example.com", "example.com"));
        assert!(!name_covers("*.example.com", "a.mx1.example.com"));
        assert!(!name_covers("*.example.com", ".example.com"));
        assert!(!name_covers("mx*.example.com", "mx1.example.com"));
        assert!(!name_covers("*.*.com", "a.example.com"));
        assert!(!name_covers("*", "localhost"));
    }

    #[test]
    fn a_certificate_covers_any_of_its_names() {
        let params = rcgen::CertificateParams::new(vec!["a.example".into(), "*.b.example".into()])
            .expect("params");
        let info = describe(&certificate(params)).expect("describe");
        assert!(info.covers("a.example"));
        assert!(info.covers("mx.b.example"));
        assert!(!info.covers("b.example"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let error = describe(&CertificateDer::from(vec![0x30, 0x03, 0x01])).expect_err("garbage");
        assert!(matches!(error, TlsError::UnparsableCertificate { .. }));
    }
}
