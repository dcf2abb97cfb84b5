//! The human and JSON forms of hand-made reports: the same facts, in stable words.

use std::net::SocketAddr;
use std::time::Duration;

use posthorn_delivery::probe::{
    verdict, AddressProbe, FallbackSettings, HopFacts, Observed, ProbeReport, ProbeTimeouts,
    RouteFacts, SessionFacts, StartTlsStep,
};
use posthorn_delivery::route::RouteSource;
use posthorn_policy::{outbound_policy, AccessMap, Destination, TlsMode};
use posthorn_proto::Reply;

use super::{json, render, ProbeContext};

fn context() -> ProbeContext<'static> {
    ProbeContext {
        starttls: "opportunistic",
        tls_failure: "plaintext",
        plaintext_retry: "immediate",
        access_map: None,
        timeouts: ProbeTimeouts::uniform(Duration::from_secs(10)),
    }
}

fn reply(code: u16, lines: &[&str]) -> Reply {
    Reply {
        code,
        status: None,
        lines: lines.iter().map(|line| line.to_string().into()).collect(),
    }
}

/// One address whose STARTTLS is refused, then the plaintext reconnect works.
fn refused_report() -> ProbeReport {
    let address: SocketAddr = "192.0.2.7:25".parse().unwrap();
    let destination = Destination {
        host: "mx.example.com",
        ip: Some(address.ip()),
        recipient_domain: "example.com",
    };
    let policy = outbound_policy(TlsMode::Opportunistic, &AccessMap::default(), &destination);
    let plain = SessionFacts {
        banner: Some(reply(220, &["mx.example.com ESMTP"])),
        ehlo: Some(reply(250, &["mx.example.com", "PIPELINING", "STARTTLS"])),
        ..SessionFacts::default()
    };
    let session = SessionFacts {
        starttls: StartTlsStep::Refused(reply(454, &["TLS not available"])),
        ..plain.clone()
    };
    let settings = FallbackSettings {
        tls_failure: posthorn_config::TlsFailure::Plaintext,
        plaintext_retry: posthorn_config::PlaintextRetry::Immediate,
        memory: true,
    };
    let seen = Observed {
        session: &session,
        fallback: Some(&plain),
        remembered: None,
    };
    let verdict = verdict(&policy, settings, seen);
    let hop = HopFacts {
        host: "mx.example.com".into(),
        port: 25,
        preference: Some(10),
        addresses: vec![address.ip()],
        total_addresses: 3,
    };
    ProbeReport {
        target: "example.com".into(),
        route: Ok(RouteFacts {
            source: Some(RouteSource::Mx),
            hops: vec![hop],
            total_hops: 4,
        }),
        addresses: vec![AddressProbe {
            host: "mx.example.com".into(),
            address,
            preference: Some(10),
            policy,
            remembered: None,
            session,
            fallback: Some(plain),
            verdict: verdict.clone(),
        }],
        overall: verdict,
        client_certificate: None,
    }
}

#[test]
fn the_human_form_says_each_step_and_the_cuts() {
    let text = render::report(&refused_report(), &context());
    let expected_parts = [
        "probe: example.com\n",
        "timeouts: connect 10s, each reply 10s, handshake 10s\n",
        "client certificate: none configured\n",
        "  mx.example.com (MX 10) port 25: 192.0.2.7\n",
        "  note: mx.example.com has 3 addresses; probing the first 2\n",
        "  note: the route has 4 hosts; probing the first 3\n",
        "== mx.example.com [192.0.2.7]:25 (MX 10)\n",
        "  result: opportunistic (opportunistic): STARTTLS when offered; \
         a failed handshake falls back to plaintext\n",
        "EHLO: 250 mx.example.com\n  keywords: PIPELINING, STARTTLS\n",
        "STARTTLS: 454 TLS not available (verify=PROTOCOL)\n",
        "plaintext reconnect (what the fallback meets):\n  connect: ok\n",
        "verdict: plaintext after fallback (STARTTLS fails: 454 TLS not available)\n",
    ];
    for part in expected_parts {
        assert!(text.contains(part), "{part:?} not in:\n{text}");
    }
    assert!(text.ends_with(
        "\noverall: plaintext after fallback (STARTTLS fails: 454 TLS not available)\n"
    ));
}

#[test]
fn the_json_form_carries_the_same_facts() {
    let report = refused_report();
    let value = json::report(&report, &context());
    let address = &value["addresses"][0];
    assert_eq!(value["route"]["source"], "mx");
    assert_eq!(value["route"]["total_hops"], 4);
    assert_eq!(address["session"]["starttls"]["result"], "refused");
    assert_eq!(address["session"]["starttls"]["failure_verify"], "PROTOCOL");
    assert_eq!(address["session"]["ehlo"]["keywords"][1], "STARTTLS");
    assert_eq!(address["fallback"]["banner"], "220 mx.example.com ESMTP");
    assert_eq!(address["verdict"]["kind"], "plaintext_after_fallback");
    assert_eq!(address["verdict"]["text"], report.overall.to_string());
    assert_eq!(value["answered"], true);
}
