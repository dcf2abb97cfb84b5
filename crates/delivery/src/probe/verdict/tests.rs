//! The verdict for each kind of peer and policy, as whole sentences.

use std::net::IpAddr;
use std::path::Path;

use posthorn_policy::outbound_tls::{outbound_policy, Destination, TlsMode, TlsPolicy};
use posthorn_policy::AccessMap;
use posthorn_proto::Reply;

use super::*;
use crate::probe::facts::TlsFacts;

const PLAINTEXT: FallbackSettings = FallbackSettings {
    tls_failure: TlsFailure::Plaintext,
    plaintext_retry: PlaintextRetry::Immediate,
    memory: true,
};

fn policy(mode: TlsMode, access: &str) -> TlsPolicy {
    let map = AccessMap::parse(access, Path::new("access")).unwrap();
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let destination = Destination {
        host: "mx.dest.example",
        ip: Some(ip),
        recipient_domain: "dest.example",
    };
    outbound_policy(mode, &map, &destination)
}

fn opportunistic() -> TlsPolicy {
    policy(TlsMode::Opportunistic, "")
}

fn reply(code: u16, text: &str) -> Reply {
    Reply {
        code,
        status: None,
        lines: vec![text.to_owned().into()],
    }
}

fn ready(starttls: StartTlsStep) -> SessionFacts {
    SessionFacts {
        banner: Some(reply(220, "mx.dest.example ESMTP")),
        ehlo: Some(reply(250, "mx.dest.example")),
        starttls,
        ..SessionFacts::default()
    }
}

fn established(verify: Verify, after: Result<Reply, String>) -> SessionFacts {
    let tls = TlsFacts {
        version: "TLSv1.3",
        cipher: "TLS_AES_256_GCM_SHA384".into(),
        bits: 256,
        verify,
        verify_error: None,
        chain: Vec::new(),
        peer_names: vec!["mx.dest.example".into()],
        client_certificate_requested: false,
    };
    ready(StartTlsStep::Established {
        reply: "220 2.0.0 Ready".into(),
        tls: Box::new(tls),
        after,
    })
}

fn handshake_failed() -> SessionFacts {
    ready(StartTlsStep::HandshakeFailed {
        reply: "220 2.0.0 Ready".into(),
        reason: "handshake failed: tls handshake eof".into(),
    })
}

fn judge(policy: &TlsPolicy, settings: FallbackSettings, session: &SessionFacts) -> String {
    let fallback = ready(StartTlsStep::NotAttempted);
    let seen = Observed {
        session,
        fallback: Some(&fallback),
        remembered: None,
    };
    verdict(policy, settings, seen).to_string()
}

#[test]
fn a_verified_certificate_is_tls_verified() {
    let session = established(Verify::Ok, Ok(reply(250, "mx")));
    assert_eq!(judge(&opportunistic(), PLAINTEXT, &session), "TLS verified");
}

#[test]
fn an_unverified_certificate_is_delivered_with_verify_fail() {
    let session = established(Verify::Fail, Ok(reply(250, "mx")));
    assert_eq!(
        judge(&opportunistic(), PLAINTEXT, &session),
        "TLS unverified (delivered with verify=FAIL)"
    );
}

#[test]
fn an_unverified_certificate_defers_under_a_verify_requirement() {
    let session = established(Verify::Fail, Ok(reply(250, "mx")));
    let verified = policy(TlsMode::Opportunistic, "TLS_Srv:dest.example VERIFY\n");
    assert_eq!(
        judge(&verified, PLAINTEXT, &session),
        "defer: 454 4.7.5 TLS policy: server certificate not verified (policy tls_srv:access:1)"
    );
    let perm = policy(TlsMode::Opportunistic, "TLS_Srv: PERM+VERIFY\n");
    assert!(judge(&perm, PLAINTEXT, &session).starts_with("bounce: 554 5.7.5"));
}

#[test]
fn a_failed_handshake_falls_back_to_plaintext() {
    assert_eq!(
        judge(&opportunistic(), PLAINTEXT, &handshake_failed()),
        "plaintext after fallback (STARTTLS fails: handshake failed: tls handshake eof)"
    );
    let next = FallbackSettings {
        plaintext_retry: PlaintextRetry::NextAttempt,
        ..PLAINTEXT
    };
    assert!(judge(&opportunistic(), next, &handshake_failed())
        .starts_with("plaintext after fallback at the next attempt, this one defers"));
}

#[test]
fn tls_breaking_before_mail_is_a_failed_handshake() {
    let session = established(Verify::Fail, Err("received fatal alert".into()));
    assert_eq!(
        judge(&opportunistic(), PLAINTEXT, &session),
        "plaintext after fallback (STARTTLS fails: TLS broke before MAIL: received fatal alert)"
    );
}

#[test]
fn a_refused_starttls_falls_back_too() {
    let session = ready(StartTlsStep::Refused(reply(454, "TLS not available")));
    assert_eq!(
        judge(&opportunistic(), PLAINTEXT, &session),
        "plaintext after fallback (STARTTLS fails: 454 TLS not available)"
    );
}

#[test]
fn a_failed_handshake_defers_when_tls_is_required_or_fallback_is_off() {
    let required = policy(TlsMode::Required, "");
    assert_eq!(
        judge(&required, PLAINTEXT, &handshake_failed()),
        "defer: STARTTLS fails: handshake failed: tls handshake eof; policy required requires TLS"
    );
    let defer = FallbackSettings {
        tls_failure: TlsFailure::Defer,
        ..PLAINTEXT
    };
    assert!(judge(&opportunistic(), defer, &handshake_failed())
        .ends_with("; outbound.tls_failure = defer"));
}

#[test]
fn a_failed_plaintext_reconnect_defers() {
    let fallback = SessionFacts {
        connect_error: Some("Connection refused".into()),
        ..SessionFacts::default()
    };
    let seen = Observed {
        session: &handshake_failed(),
        fallback: Some(&fallback),
        remembered: None,
    };
    assert_eq!(
        verdict(&opportunistic(), PLAINTEXT, seen).to_string(),
        "defer: STARTTLS fails: handshake failed: tls handshake eof; \
         the plaintext reconnect fails: connect: Connection refused"
    );
}

#[test]
fn no_starttls_offered_is_plaintext_unless_tls_is_required() {
    let session = ready(StartTlsStep::NotOffered);
    assert_eq!(
        judge(&opportunistic(), PLAINTEXT, &session),
        "plaintext (STARTTLS not offered)"
    );
    assert_eq!(
        judge(&policy(TlsMode::Required, ""), PLAINTEXT, &session),
        "defer: 454 4.7.4 TLS policy: TLS is required, but was not established (policy required)"
    );
}

#[test]
fn try_tls_no_and_starttls_off_are_plaintext_by_policy() {
    let access = "# exceptions\n".repeat(11) + "Try_TLS:dest.example NO\n";
    let session = established(Verify::Ok, Ok(reply(250, "mx")));
    assert_eq!(
        judge(
            &policy(TlsMode::Opportunistic, &access),
            PLAINTEXT,
            &session
        ),
        "plaintext (Try_TLS NO at access:12)"
    );
    assert_eq!(
        judge(&policy(TlsMode::Off, ""), PLAINTEXT, &session),
        "plaintext (outbound.starttls = off)"
    );
}

#[test]
fn the_broken_tls_memory_skips_starttls_unless_tls_is_required() {
    let session = handshake_failed();
    let seen = Observed {
        session: &session,
        fallback: None,
        remembered: Some("handshake failed: eof"),
    };
    assert_eq!(
        verdict(&opportunistic(), PLAINTEXT, seen).to_string(),
        "plaintext (STARTTLS skipped: remembered as broken: handshake failed: eof)"
    );
    let required = policy(TlsMode::Required, "");
    assert!(verdict(&required, PLAINTEXT, seen)
        .to_string()
        .starts_with("defer: STARTTLS fails"));
}

#[test]
fn a_dead_address_or_refused_greeting_defers() {
    let dead = SessionFacts {
        connect_error: Some("Connection refused (os error 111)".into()),
        ..SessionFacts::default()
    };
    assert_eq!(
        judge(&opportunistic(), PLAINTEXT, &dead),
        "defer: connect: Connection refused (os error 111)"
    );
    let refused = SessionFacts {
        banner: Some(reply(554, "go away")),
        failure: Some("greeting refused (554 go away)".into()),
        ..SessionFacts::default()
    };
    assert_eq!(
        judge(&opportunistic(), PLAINTEXT, &refused),
        "defer: greeting refused (554 go away)"
    );
}

#[test]
fn overall_the_first_address_that_takes_mail_decides() {
    let dead = Verdict::Defer {
        why: "connect: refused".into(),
    };
    let tls = Verdict::TlsVerified;
    let plain = Verdict::PlaintextNotOffered;
    assert_eq!(overall([(&dead, false), (&tls, true), (&plain, true)]), tls);
    let required = Verdict::Defer {
        why: "STARTTLS fails".into(),
    };
    assert_eq!(overall([(&dead, false), (&required, true)]), required);
    assert_eq!(
        overall([(&dead, false), (&dead, false)]).to_string(),
        "defer: no address answers (last: connect: refused)"
    );
    assert_eq!(
        overall([]).to_string(),
        "defer: no address answers (no address to try)"
    );
}
