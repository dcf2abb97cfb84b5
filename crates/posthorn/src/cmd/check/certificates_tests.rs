//! Certificate findings against certificates made with rcgen at test time.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use posthorn_config::TlsSettings;
use rcgen::{CertificateParams, DnType, KeyPair};

use super::*;

const DAY: Duration = Duration::from_secs(86_400);
const EHLO: &str = "mx1.example.com";
const CONFIG: &str = "[tls]\nclient_certificate = \"/c.pem\"\nclient_private_key = \"/c.key\"\n";

struct Pair {
    certificate: PathBuf,
    key: PathBuf,
}

/// Makes a self-signed pair in `dir`: SAN `names` (CN only when `names` is empty
/// and `cn` is given), valid from `from` to `to` relative to now.
fn pair(
    dir: &tempfile::TempDir,
    file: &str,
    names: &[&str],
    cn: Option<&str>,
    from: i64,
    to: i64,
) -> Pair {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    if let Some(cn) = cn {
        params.distinguished_name.push(DnType::CommonName, cn);
    }
    params.not_before = days_from_now(from).into();
    params.not_after = days_from_now(to).into();
    let certificate = params.self_signed(&key).unwrap();
    let pair = Pair {
        certificate: dir.path().join(format!("{file}.pem")),
        key: dir.path().join(format!("{file}.key")),
    };
    std::fs::write(&pair.certificate, certificate.pem()).unwrap();
    std::fs::write(&pair.key, key.serialize_pem()).unwrap();
    pair
}

fn days_from_now(days: i64) -> SystemTime {
    let offset = DAY * u32::try_from(days.unsigned_abs()).unwrap();
    if days < 0 {
        SystemTime::now() - offset
    } else {
        SystemTime::now() + offset
    }
}

fn client(pair: &Pair) -> TlsSettings {
    TlsSettings {
        client_certificate: Some(pair.certificate.clone()),
        client_private_key: Some(pair.key.clone()),
        ..TlsSettings::default()
    }
}

fn server(pair: &Pair) -> TlsSettings {
    TlsSettings {
        certificate: Some(pair.certificate.clone()),
        private_key: Some(pair.key.clone()),
        ..TlsSettings::default()
    }
}

fn check(kind: PairKind, tls: &TlsSettings) -> Vec<Finding> {
    let source = ConfigSource::new("posthorn.toml", CONFIG);
    let context = Context {
        source: &source,
        hostname: EHLO,
        now: SystemTime::now(),
    };
    check_pair(kind, tls, &context)
}

fn checks(findings: &[Finding]) -> Vec<(&'static str, Severity)> {
    findings.iter().map(|f| (f.check, f.severity)).collect()
}

#[test]
fn a_matching_client_certificate_has_no_findings() {
    let dir = tempfile::tempdir().unwrap();
    let good = pair(&dir, "client", &[EHLO], None, -1, 365);
    assert_eq!(check(CLIENT, &client(&good)), []);
}

#[test]
fn a_client_certificate_for_another_name_is_a_warning_that_explains_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let other = pair(&dir, "client", &["mx.example.com"], None, -1, 365);
    let findings = check(CLIENT, &client(&other));
    assert_eq!(
        checks(&findings),
        [("client-certificate-name", Severity::Warning)]
    );
    let finding = &findings[0];
    assert_eq!(
        finding.location.file,
        other.certificate.display().to_string()
    );
    assert!(finding.problem.contains("mx.example.com"), "{finding}");
    assert!(finding.problem.contains(EHLO), "{finding}");
    assert!(finding.problem.contains("Microsoft"), "{finding}");
    assert!(
        finding
            .fix
            .contains("subjectAltName includes mx1.example.com"),
        "{finding}"
    );
}

#[test]
fn a_wildcard_covers_one_label_only() {
    let dir = tempfile::tempdir().unwrap();
    let wildcard = pair(&dir, "wild", &["*.example.com"], None, -1, 365);
    assert_eq!(check(CLIENT, &client(&wildcard)), []);
    let deeper = pair(&dir, "deeper", &["*.com"], None, -1, 365);
    assert_eq!(
        checks(&check(CLIENT, &client(&deeper))),
        [("client-certificate-name", Severity::Warning)]
    );
}

#[test]
fn the_common_name_counts_when_there_is_no_san() {
    let dir = tempfile::tempdir().unwrap();
    let cn_only = pair(&dir, "cn", &[], Some(EHLO), -1, 365);
    assert_eq!(check(CLIENT, &client(&cn_only)), []);
}

#[test]
fn an_expired_certificate_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let expired = pair(&dir, "old", &[EHLO], None, -400, -2);
    let findings = check(SERVER, &server(&expired));
    assert_eq!(
        checks(&findings),
        [("certificate-expired", Severity::Error)]
    );
    assert!(
        findings[0].problem.contains("expired on"),
        "{}",
        findings[0]
    );
}

#[test]
fn a_certificate_expiring_within_30_days_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let soon = pair(&dir, "soon", &[EHLO], None, -300, 10);
    let findings = check(SERVER, &server(&soon));
    assert_eq!(
        checks(&findings),
        [("certificate-expiring", Severity::Warning)]
    );
    assert!(
        findings[0].problem.contains("in 9 days") || findings[0].problem.contains("in 10 days"),
        "{}",
        findings[0]
    );
    let later = pair(&dir, "later", &[EHLO], None, -300, 31);
    assert_eq!(check(SERVER, &server(&later)), []);
}

#[test]
fn a_certificate_not_yet_valid_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let future = pair(&dir, "future", &[EHLO], None, 2, 365);
    assert_eq!(
        checks(&check(SERVER, &server(&future))),
        [("certificate-not-yet-valid", Severity::Warning)]
    );
}

#[test]
fn a_server_certificate_for_another_name_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let other = pair(&dir, "server", &["localhost"], None, -1, 365);
    let findings = check(SERVER, &server(&other));
    assert_eq!(
        checks(&findings),
        [("server-certificate-name", Severity::Warning)]
    );
    assert!(!findings[0].problem.contains("Microsoft"));
}

#[test]
fn a_key_of_another_pair_is_an_error_naming_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let one = pair(&dir, "one", &[EHLO], None, -1, 365);
    let two = pair(&dir, "two", &[EHLO], None, -1, 365);
    let crossed = Pair {
        certificate: one.certificate,
        key: two.key.clone(),
    };
    let findings = check(CLIENT, &client(&crossed));
    assert_eq!(checks(&findings), [("key-mismatch", Severity::Error)]);
    assert_eq!(findings[0].location.file, two.key.display().to_string());
}

#[test]
fn unreadable_and_unparsable_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = pair(&dir, "good", &[EHLO], None, -1, 365);
    let missing = Pair {
        certificate: dir.path().join("absent.pem"),
        key: good.key.clone(),
    };
    assert_eq!(
        checks(&check(SERVER, &server(&missing))),
        [("tls-file-unreadable", Severity::Error)]
    );

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let broken = Pair {
        certificate: garbage,
        key: good.key.clone(),
    };
    assert_eq!(
        checks(&check(SERVER, &server(&broken))),
        [("certificate-invalid", Severity::Error)]
    );

    let no_key = Pair {
        certificate: good.certificate.clone(),
        key: good.certificate.clone(),
    };
    assert_eq!(
        checks(&check(SERVER, &server(&no_key))),
        [("key-missing", Severity::Error)]
    );
}

#[test]
fn half_a_pair_is_an_error_at_the_config_line() {
    let tls = TlsSettings {
        client_certificate: Some(PathBuf::from("/c.pem")),
        ..TlsSettings::default()
    };
    let findings = check(CLIENT, &tls);
    assert_eq!(
        checks(&findings),
        [("certificate-pair-incomplete", Severity::Error)]
    );
    assert_eq!(findings[0].location.to_string(), "posthorn.toml:2");
    assert!(
        findings[0]
            .problem
            .contains("`tls.client_private_key` is not"),
        "{}",
        findings[0]
    );

    let tls = TlsSettings {
        client_private_key: Some(PathBuf::from("/c.key")),
        ..TlsSettings::default()
    };
    assert_eq!(
        check(CLIENT, &tls)[0].location.to_string(),
        "posthorn.toml:3"
    );
}

#[test]
fn nothing_configured_is_nothing_to_check() {
    assert_eq!(check(SERVER, &TlsSettings::default()), []);
    assert_eq!(check(CLIENT, &TlsSettings::default()), []);
    assert_eq!(check_ca_bundle(&TlsSettings::default()), []);
}

#[test]
fn the_ca_bundle_must_hold_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let good = pair(&dir, "ca", &["ca.example"], None, -1, 365);
    let bundle = |path: PathBuf| TlsSettings {
        ca_bundle: Some(path),
        ..TlsSettings::default()
    };
    assert_eq!(check_ca_bundle(&bundle(good.certificate.clone())), []);
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(
        checks(&check_ca_bundle(&bundle(empty))),
        [("ca-bundle", Severity::Error)]
    );
    assert_eq!(
        checks(&check_ca_bundle(&bundle(dir.path().join("absent")))),
        [("ca-bundle", Severity::Error)]
    );
}
