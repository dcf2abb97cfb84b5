//! `TlsPolicy::check` for each unmet requirement, and the replies that record them.

use super::policy;
use crate::outbound_tls::{Negotiated, TlsMode, TlsPolicy, Unmet};

fn decide(config: TlsMode, access: &str) -> TlsPolicy {
    policy(config, access, "mx1.example.com", None, "example.org")
}

fn session(verified: bool, bits: u16, names: &[String]) -> Negotiated<'_> {
    Negotiated {
        verified,
        bits,
        names,
    }
}

#[test]
fn no_tls_is_fine_unless_tls_is_required() {
    let cases = [
        (TlsMode::Off, "", Ok(())),
        (TlsMode::Opportunistic, "", Ok(())),
        (TlsMode::Required, "", Err(Unmet::NoTls)),
        (TlsMode::Verified, "", Err(Unmet::NoTls)),
        (
            TlsMode::Opportunistic,
            "TLS_Srv:com ENCR:128",
            Err(Unmet::NoTls),
        ),
        (
            TlsMode::Opportunistic,
            "Try_TLS:com NO\nTLS_Rcpt:org VERIFY",
            Err(Unmet::NoTls),
        ),
    ];
    for (config, access, expected) in cases {
        assert_eq!(
            decide(config, access).check(None),
            expected,
            "{config} {access:?}"
        );
    }
}

#[test]
fn each_requirement_is_checked_against_the_session() {
    let names = vec![
        "mx1.example.com".to_owned(),
        "*.mail.example.net".to_owned(),
    ];
    let cases = [
        // Unverified certificates are fine without a verification requirement.
        (
            TlsMode::Opportunistic,
            "",
            session(false, 40, &names),
            Ok(()),
        ),
        (TlsMode::Required, "", session(false, 40, &names), Ok(())),
        (
            TlsMode::Verified,
            "",
            session(false, 256, &names),
            Err(Unmet::NotVerified),
        ),
        (TlsMode::Verified, "", session(true, 256, &names), Ok(())),
        (
            TlsMode::Opportunistic,
            "TLS_Srv:com VERIFY",
            session(false, 256, &names),
            Err(Unmet::NotVerified),
        ),
        (
            TlsMode::Opportunistic,
            "TLS_Srv:com ENCR:128",
            session(false, 112, &names),
            Err(Unmet::TooFewBits {
                have: 112,
                need: 128,
            }),
        ),
        (
            TlsMode::Opportunistic,
            "TLS_Srv:com ENCR:128",
            session(false, 128, &names),
            Ok(()),
        ),
        (
            TlsMode::Opportunistic,
            "TLS_Srv:com VERIFY:256",
            session(true, 128, &names),
            Err(Unmet::TooFewBits {
                have: 128,
                need: 256,
            }),
        ),
        // +CN: the host name itself, an exact name, a wildcard covering one label.
        (
            TlsMode::Opportunistic,
            "TLS_Srv:com ENCR:128+CN",
            session(false, 256, &names),
            Ok(()),
        ),
        (
            TlsMode::Opportunistic,
            "TLS_Rcpt:org ENCR:128+CN:MX.Mail.Example.NET",
            session(false, 256, &names),
            Ok(()),
        ),
        (
            TlsMode::Opportunistic,
            "TLS_Rcpt:org ENCR:128+CN:a.b.mail.example.net",
            session(false, 256, &names),
            Err(Unmet::NameMismatch {
                want: "a.b.mail.example.net".to_owned(),
            }),
        ),
        (
            TlsMode::Opportunistic,
            "TLS_Srv:com VERIFY+CN:mx.other.example",
            session(true, 256, &names),
            Err(Unmet::NameMismatch {
                want: "mx.other.example".to_owned(),
            }),
        ),
        // Several unmet: the first in the order of `Unmet`'s variants.
        (
            TlsMode::Opportunistic,
            "TLS_Srv:com VERIFY:256+CN:mx.other.example",
            session(false, 128, &[]),
            Err(Unmet::NotVerified),
        ),
    ];
    for (config, access, negotiated, expected) in cases {
        let decided = decide(config, access);
        assert_eq!(
            decided.check(Some(&negotiated)),
            expected,
            "{config} {access:?}"
        );
    }
}

#[test]
fn a_wildcard_covers_exactly_one_label() {
    let names = vec!["*.example.com".to_owned()];
    let policy = decide(TlsMode::Opportunistic, "TLS_Srv:com ENCR:1+CN:example.com");
    assert_eq!(
        policy.check(Some(&session(true, 256, &names))),
        Err(Unmet::NameMismatch {
            want: "example.com".to_owned()
        })
    );
    let trailing_dot = vec!["MX1.EXAMPLE.COM.".to_owned()];
    let policy = decide(TlsMode::Opportunistic, "TLS_Srv:com ENCR:1+CN");
    assert_eq!(
        policy.check(Some(&session(true, 256, &trailing_dot))),
        Ok(())
    );
}

#[test]
fn replies_are_4_7_x_or_5_7_x_when_permanent() {
    let cases = [
        (
            Unmet::NoTls,
            false,
            "454 4.7.4 TLS policy: TLS is required, but was not established",
        ),
        (
            Unmet::NoTls,
            true,
            "554 5.7.4 TLS policy: TLS is required, but was not established",
        ),
        (
            Unmet::NotVerified,
            false,
            "454 4.7.5 TLS policy: server certificate not verified",
        ),
        (
            Unmet::TooFewBits {
                have: 56,
                need: 128,
            },
            true,
            "554 5.7.4 TLS policy: cipher too weak (56 bits, at least 128 required)",
        ),
        (
            Unmet::NameMismatch {
                want: "mx.example.com".to_owned(),
            },
            false,
            "454 4.7.5 TLS policy: server certificate does not match mx.example.com",
        ),
    ];
    for (unmet, permanent, text) in cases {
        let reply = unmet.reply(permanent);
        assert_eq!(reply.to_string(), text);
        assert_eq!(reply.is_permanent(), permanent);
    }
}

#[test]
fn perm_plus_marks_the_policy_permanent() {
    let permanent = decide(TlsMode::Opportunistic, "TLS_Srv:com PERM+ENCR:128");
    assert!(permanent.requirements.permanent_failure);
    let unmet = permanent.check(None).unwrap_err();
    assert_eq!(
        unmet.reply(permanent.requirements.permanent_failure).code,
        554
    );
    assert!(
        !decide(TlsMode::Opportunistic, "TLS_Srv:com TEMP+ENCR:128")
            .requirements
            .permanent_failure
    );
}
