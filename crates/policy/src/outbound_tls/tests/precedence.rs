//! The precedence table of the module doc, row by row, and what follows from it.

use super::policy;
use crate::outbound_tls::{PolicyNote, Requirements, TlsMode, TlsPolicy};
use crate::Tag;

const HOST: &str = "mx1.example.com";
const RCPT: &str = "example.org";

fn decide(config: TlsMode, access: &str) -> TlsPolicy {
    policy(config, access, HOST, None, RCPT)
}

#[test]
fn precedence_table() {
    use TlsMode::{Off, Opportunistic, Required, Verified};
    let no = "Try_TLS:example.com NO\n";
    let yes = "Try_TLS:example.com YES\n";
    let encr = "TLS_Srv:example.com ENCR:128\n";
    let verify = "TLS_Rcpt:example.org VERIFY\n";
    let cases: Vec<(TlsMode, String, TlsMode, &str)> = vec![
        // No entry: the config.
        (Off, String::new(), Off, "off"),
        (Opportunistic, String::new(), Opportunistic, "opportunistic"),
        (Required, String::new(), Required, "required"),
        (Verified, yes.to_owned(), Verified, "verified"),
        // Try_TLS NO alone wins over every config.
        (Opportunistic, no.to_owned(), Off, "try_tls:access:1"),
        (Required, no.to_owned(), Off, "try_tls:access:1"),
        (Verified, no.to_owned(), Off, "try_tls:access:1"),
        // ENCR: at least required; a tie goes to the entry; verified config stays.
        (Off, encr.to_owned(), Required, "tls_srv:access:1"),
        (
            Opportunistic,
            format!("{yes}{encr}"),
            Required,
            "tls_srv:access:2",
        ),
        (Required, encr.to_owned(), Required, "tls_srv:access:1"),
        (Verified, encr.to_owned(), Verified, "verified"),
        // Requirements beat Try_TLS NO (and Try_TLS NO still sets the config aside).
        (
            Opportunistic,
            format!("{no}{encr}"),
            Required,
            "tls_srv:access:2",
        ),
        (
            Verified,
            format!("{no}{encr}"),
            Required,
            "tls_srv:access:2",
        ),
        (Off, format!("{no}{verify}"), Verified, "tls_rcpt:access:2"),
        // VERIFY: always verified, from the entry.
        (
            Opportunistic,
            verify.to_owned(),
            Verified,
            "tls_rcpt:access:1",
        ),
        (Verified, verify.to_owned(), Verified, "tls_rcpt:access:1"),
        // The stricter of TLS_Srv and TLS_Rcpt decides; TLS_Srv on a tie.
        (
            Opportunistic,
            format!("{encr}{verify}"),
            Verified,
            "tls_rcpt:access:2",
        ),
        (
            Opportunistic,
            format!("{encr}TLS_Rcpt:example.org ENCR:256\n"),
            Required,
            "tls_srv:access:1",
        ),
    ];
    for (config, access, mode, label) in cases {
        let decided = decide(config, &access);
        assert_eq!(
            (decided.mode, decided.label().as_str()),
            (mode, label),
            "config {config}, map {access:?}"
        );
    }
}

#[test]
fn requirements_merge_field_by_field_the_stricter_wins() {
    let access = "TLS_Srv:MX1.Example.COM ENCR:128+CN\n\
                  TLS_Rcpt:example.org PERM+VERIFY:256+CN:other.example.net\n";
    let decided = policy(
        TlsMode::Opportunistic,
        access,
        "MX1.Example.com.",
        None,
        RCPT,
    );
    assert_eq!(decided.mode, TlsMode::Verified);
    assert_eq!(
        decided.requirements,
        Requirements {
            verify: true,
            min_bits: Some(256),
            common_name: Some("mx1.example.com".to_owned()),
            permanent_failure: true,
        }
    );

    let only_rcpt = decide(
        TlsMode::Opportunistic,
        "TLS_Rcpt:org ENCR:40+CN:mx.example.org",
    );
    assert_eq!(
        only_rcpt.requirements,
        Requirements {
            verify: false,
            min_bits: Some(40),
            common_name: Some("mx.example.org".to_owned()),
            permanent_failure: false,
        }
    );
    assert_eq!(
        decide(TlsMode::Verified, "").requirements,
        Requirements::default(),
        "the config's mode is not a requirement"
    );
}

#[test]
fn notes_say_what_was_overridden_and_what_is_not_checked() {
    let overridden = decide(
        TlsMode::Opportunistic,
        "Try_TLS:example.com NO\nTLS_Srv:example.com ENCR:128\n",
    );
    assert_eq!(
        overridden.notes,
        [PolicyNote::TryTlsOverridden {
            line: 1,
            by: Tag::TlsSrv,
            by_line: 2,
        }]
    );
    assert!(overridden.notes[0]
        .to_string()
        .contains("never goes out in clear"));

    let config_overridden = decide(TlsMode::Required, "Try_TLS: NO\n");
    assert_eq!(
        config_overridden.notes,
        [PolicyNote::ConfigOverridden {
            config: TlsMode::Required,
            line: 1,
        }]
    );
    assert_eq!(decide(TlsMode::Opportunistic, "Try_TLS: NO\n").notes, []);

    let extensions = decide(
        TlsMode::Opportunistic,
        "TLS_Rcpt:example.org VERIFY+CS:subject+CI:issuer\n",
    );
    let texts: Vec<String> = extensions.notes.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        [
            "TLS_Rcpt (line 1): +CS:subject is not checked by Posthorn",
            "TLS_Rcpt (line 1): +CI:issuer is not checked by Posthorn",
        ]
    );
}

#[test]
fn plaintext_fallback_only_for_opportunistic_without_requirements() {
    let cases = [
        (TlsMode::Opportunistic, "", true, true),
        (TlsMode::Opportunistic, "Try_TLS:com YES", true, true),
        (TlsMode::Off, "", false, false),
        (TlsMode::Opportunistic, "Try_TLS:com NO", false, false),
        (TlsMode::Required, "", false, true),
        (TlsMode::Verified, "", false, true),
        (TlsMode::Opportunistic, "TLS_Srv:com ENCR:128", false, true),
        (TlsMode::Opportunistic, "TLS_Rcpt:org VERIFY", false, true),
        (
            TlsMode::Opportunistic,
            "Try_TLS:com NO\nTLS_Srv:com ENCR:1",
            false,
            true,
        ),
    ];
    for (config, access, plaintext, starttls) in cases {
        let decided = decide(config, access);
        assert_eq!(
            (decided.allows_plaintext(), decided.sends_starttls()),
            (plaintext, starttls),
            "config {config}, map {access:?}"
        );
    }
}

#[test]
fn labels_for_the_config_and_each_tag() {
    for mode in [
        TlsMode::Off,
        TlsMode::Opportunistic,
        TlsMode::Required,
        TlsMode::Verified,
    ] {
        assert_eq!(TlsPolicy::from_config(mode).label(), mode.to_string());
    }
    assert_eq!(TlsMode::Opportunistic.to_string(), "opportunistic");
    let cases = [
        ("\n\n\n\n\n\n\n\n\n\n\nTry_TLS:com NO", "try_tls:access:12"),
        ("\n\nTLS_Srv:com ENCR:128", "tls_srv:access:3"),
        ("\n\n\n\n\n\nTLS_Rcpt:org VERIFY", "tls_rcpt:access:7"),
    ];
    for (access, label) in cases {
        assert_eq!(decide(TlsMode::Opportunistic, access).label(), label);
    }
}
