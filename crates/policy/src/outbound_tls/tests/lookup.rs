//! Which keys each tag tries, in sendmail's order, and which entry decides.

use super::policy;
use crate::outbound_tls::{LookupStep, TlsMode};
use crate::Tag;

const HOST: &str = "mx1.example.com";
const RCPT: &str = "sub.example.org";

/// (map, ip, expected mode, expected label): host mx1.example.com, opportunistic config.
fn check_table(cases: &[(&str, Option<&str>, TlsMode, &str)]) {
    for &(access, ip, mode, label) in cases {
        let decided = policy(TlsMode::Opportunistic, access, HOST, ip, RCPT);
        assert_eq!(
            (decided.mode, decided.label().as_str()),
            (mode, label),
            "map {access:?}, ip {ip:?}"
        );
    }
}

#[test]
fn try_tls_matches_host_parent_ip_prefix_ipv6_and_default() {
    use TlsMode::{Off, Opportunistic};
    check_table(&[
        ("Try_TLS:mx1.example.com NO", None, Off, "try_tls:access:1"),
        ("#\nTry_TLS:example.com NO", None, Off, "try_tls:access:2"),
        ("Try_TLS:com NO", None, Off, "try_tls:access:1"),
        (
            "Try_TLS:192.0.2.7 NO",
            Some("192.0.2.7"),
            Off,
            "try_tls:access:1",
        ),
        (
            "Try_TLS:192.0.2 NO",
            Some("192.0.2.7"),
            Off,
            "try_tls:access:1",
        ),
        ("Try_TLS:192 NO", Some("192.0.2.7"), Off, "try_tls:access:1"),
        (
            "Try_TLS:IPv6:2001:db8::7 NO",
            Some("2001:db8::7"),
            Off,
            "try_tls:access:1",
        ),
        (
            "Try_TLS:IPv6:2001:db8 NO",
            Some("2001:db8::7"),
            Off,
            "try_tls:access:1",
        ),
        ("Try_TLS: NO", None, Off, "try_tls:access:1"),
        ("Try_TLS: NO", Some("192.0.2.7"), Off, "try_tls:access:1"),
        // Not this host, or an IP key when the address is unknown.
        (
            "Try_TLS:mx2.example.com NO",
            None,
            Opportunistic,
            "opportunistic",
        ),
        ("Try_TLS:192.0.2.7 NO", None, Opportunistic, "opportunistic"),
        (
            "Try_TLS:192.0.3 NO",
            Some("192.0.2.7"),
            Opportunistic,
            "opportunistic",
        ),
        // YES changes nothing, and a more specific YES shadows a NO default.
        (
            "Try_TLS:example.com YES",
            None,
            Opportunistic,
            "opportunistic",
        ),
        (
            "Try_TLS:example.com YES\nTry_TLS: NO",
            None,
            Opportunistic,
            "opportunistic",
        ),
    ]);
}

#[test]
fn host_keys_come_before_ip_keys_and_ip_keys_before_the_default() {
    use TlsMode::{Off, Opportunistic};
    check_table(&[
        (
            "Try_TLS:192.0.2.7 NO\nTry_TLS:com YES",
            Some("192.0.2.7"),
            Opportunistic,
            "opportunistic",
        ),
        (
            "Try_TLS:192.0.2 YES\nTry_TLS: NO",
            Some("192.0.2.7"),
            Opportunistic,
            "opportunistic",
        ),
        (
            "Try_TLS:192.0.2 YES\nTry_TLS: NO",
            None,
            Off,
            "try_tls:access:2",
        ),
    ]);
}

#[test]
fn tls_srv_matches_host_parent_ip_prefix_ipv6_and_default() {
    use TlsMode::{Opportunistic, Required, Verified};
    check_table(&[
        (
            "TLS_Srv:mx1.example.com ENCR:128",
            None,
            Required,
            "tls_srv:access:1",
        ),
        (
            "TLS_Srv:example.com VERIFY",
            None,
            Verified,
            "tls_srv:access:1",
        ),
        (
            "TLS_Srv:192.0.2.7 ENCR:128",
            Some("192.0.2.7"),
            Required,
            "tls_srv:access:1",
        ),
        (
            "TLS_Srv:192.0 VERIFY:128",
            Some("192.0.2.7"),
            Verified,
            "tls_srv:access:1",
        ),
        (
            "TLS_Srv:IPv6:2001:db8:0:0:0:0:0:7 ENCR:128",
            Some("2001:db8::7"),
            Required,
            "tls_srv:access:1",
        ),
        (
            "TLS_Srv:IPv6:2001 VERIFY",
            Some("2001:db8::7"),
            Verified,
            "tls_srv:access:1",
        ),
        ("TLS_Srv: ENCR:128", None, Required, "tls_srv:access:1"),
        (
            "TLS_Srv:192.0.2.7 VERIFY",
            None,
            Opportunistic,
            "opportunistic",
        ),
        (
            "TLS_Srv:example.org VERIFY",
            None,
            Opportunistic,
            "opportunistic",
        ),
    ]);
}

#[test]
fn tls_rcpt_matches_the_recipient_domain_its_parents_and_default_only() {
    use TlsMode::{Opportunistic, Required, Verified};
    check_table(&[
        (
            "TLS_Rcpt:sub.example.org VERIFY",
            None,
            Verified,
            "tls_rcpt:access:1",
        ),
        (
            "TLS_Rcpt:example.org ENCR:128",
            None,
            Required,
            "tls_rcpt:access:1",
        ),
        ("TLS_Rcpt:org ENCR:128", None, Required, "tls_rcpt:access:1"),
        (
            "TLS_Rcpt: ENCR:128",
            Some("192.0.2.7"),
            Required,
            "tls_rcpt:access:1",
        ),
        // Keyed by recipient domain: neither the MX host nor its address count.
        (
            "TLS_Rcpt:mx1.example.com VERIFY",
            None,
            Opportunistic,
            "opportunistic",
        ),
        (
            "TLS_Rcpt:192.0.2.7 VERIFY",
            Some("192.0.2.7"),
            Opportunistic,
            "opportunistic",
        ),
    ]);
}

#[test]
fn the_trace_lists_every_key_tried_per_tag_and_the_match() {
    let access = "TLS_Srv:192.0.2 ENCR:128\n";
    let decided = policy(
        TlsMode::Opportunistic,
        access,
        HOST,
        Some("192.0.2.7"),
        "example.org",
    );
    let peer_keys = [
        "mx1.example.com",
        "example.com",
        "com",
        "192.0.2.7",
        "192.0.2",
        "192.0",
        "192",
        "",
    ];
    let keys = |keys: &[&str]| -> Vec<String> { keys.iter().map(|&key| key.to_owned()).collect() };
    assert_eq!(
        decided.trace,
        [
            LookupStep {
                tag: Tag::TryTls,
                keys: keys(&peer_keys),
                matched: None,
            },
            LookupStep {
                tag: Tag::TlsSrv,
                keys: keys(&peer_keys[..5]),
                matched: Some(("TLS_Srv:192.0.2".to_owned(), 1, "ENCR:128".to_owned())),
            },
            LookupStep {
                tag: Tag::TlsRcpt,
                keys: keys(&["example.org", "org", ""]),
                matched: None,
            },
        ]
    );
    assert_eq!(
        decided.trace[1].tried(),
        [
            "TLS_Srv:mx1.example.com",
            "TLS_Srv:example.com",
            "TLS_Srv:com",
            "TLS_Srv:192.0.2.7",
            "TLS_Srv:192.0.2"
        ]
    );
}

#[test]
fn an_address_literal_host_is_looked_up_once_as_its_address() {
    for (host, ip) in [
        ("[192.0.2.7]", None),
        ("[192.0.2.7]", Some("192.0.2.7")),
        ("192.0.2.7", None),
    ] {
        let decided = policy(TlsMode::Opportunistic, "Try_TLS:192.0.2 NO", host, ip, RCPT);
        assert_eq!(decided.mode, TlsMode::Off, "{host} {ip:?}");
        assert_eq!(
            decided.trace[0].tried(),
            ["Try_TLS:192.0.2.7", "Try_TLS:192.0.2"],
            "{host} {ip:?}"
        );
        let unmatched = policy(TlsMode::Opportunistic, "", host, ip, RCPT);
        assert_eq!(
            unmatched.trace[1].tried(),
            [
                "TLS_Srv:192.0.2.7",
                "TLS_Srv:192.0.2",
                "TLS_Srv:192.0",
                "TLS_Srv:192",
                "TLS_Srv:"
            ],
            "each key once: {host} {ip:?}"
        );
    }
    let ipv6 = policy(
        TlsMode::Opportunistic,
        "Try_TLS:IPv6:2001:db8 NO",
        "[IPv6:2001:db8::7]",
        None,
        RCPT,
    );
    assert_eq!(ipv6.mode, TlsMode::Off);
}

#[test]
fn the_source_names_the_stored_key_and_line() {
    let decided = policy(
        TlsMode::Opportunistic,
        "\n\nTry_TLS:Example.COM NO",
        HOST,
        None,
        RCPT,
    );
    assert_eq!(
        decided.source,
        crate::outbound_tls::PolicySource::Access {
            tag: Tag::TryTls,
            key: "example.com".to_owned(),
            line: 3,
        }
    );
}
