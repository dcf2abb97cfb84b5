//! Relay decisions: networks, Connect RELAY, To: RELAY, relay.domains, tricks.

use std::net::IpAddr;
use std::sync::Arc;

use posthorn_proto::{Domain, EnhancedStatus, ForwardPath, Mailbox, Reply, ReversePath};

use super::map;
use crate::{Client, ConnectDecision, Decision, RelayPolicy};

fn policy(access: &str, domains: &[&str]) -> RelayPolicy {
    let networks = vec![
        "127.0.0.0/8".parse().unwrap(),
        "2001:db8:1::/48".parse().unwrap(),
    ];
    let domains = domains.iter().map(|d| d.to_string()).collect();
    RelayPolicy::new(networks, domains, Arc::new(map(access)))
}

fn client(ip: &str) -> Client<'static> {
    Client {
        ip: ip.parse::<IpAddr>().unwrap(),
        hostname: None,
        authenticated: false,
    }
}

fn rcpt(local: &str, domain: &str) -> ForwardPath {
    ForwardPath::Mailbox(Mailbox {
        local_part: local.into(),
        domain: Domain::Name(domain.into()),
    })
}

fn sender(local: &str, domain: &str) -> ReversePath {
    ReversePath::Mailbox(Mailbox {
        local_part: local.into(),
        domain: Domain::Name(domain.into()),
    })
}

fn denied(text: &str) -> Decision {
    Decision::Reject(Reply::new(
        550,
        EnhancedStatus::new(5, 7, 1),
        text.to_owned(),
    ))
}

/// The outsider's view: connect, then one recipient.
fn outsider_rcpt(policy: &RelayPolicy, to: &ForwardPath) -> Decision {
    let outsider = client("198.51.100.7");
    let ConnectDecision::Accept { may_relay } = policy.check_connect(&outsider) else {
        panic!("outsider should connect");
    };
    policy.check_recipient(&outsider, may_relay, to)
}

#[test]
fn relay_networks_may_relay_and_outsiders_may_not() {
    let policy = policy("", &[]);
    for ip in ["127.0.0.1", "2001:db8:1::25", "::ffff:127.0.0.5"] {
        assert_eq!(
            policy.check_connect(&client(ip)),
            ConnectDecision::Accept { may_relay: true },
            "{ip}"
        );
    }
    assert_eq!(
        policy.check_connect(&client("198.51.100.7")),
        ConnectDecision::Accept { may_relay: false }
    );
    let to = rcpt("user", "elsewhere.example");
    assert_eq!(
        policy.check_recipient(&client("127.0.0.1"), true, &to),
        Decision::Accept
    );
    assert_eq!(
        outsider_rcpt(&policy, &to),
        denied("<user@elsewhere.example>... Relaying denied")
    );
}

#[test]
fn authenticated_clients_may_relay() {
    let policy = policy("", &[]);
    let mut user = client("198.51.100.7");
    user.authenticated = true;
    assert_eq!(
        policy.check_recipient(&user, false, &rcpt("a", "x.example")),
        Decision::Accept
    );
}

#[test]
fn connect_relay_opens_relaying() {
    let policy = policy(
        "Connect:198.51.100 RELAY\nConnect:trusted.example RELAY\n",
        &[],
    );
    assert_eq!(
        outsider_rcpt(&policy, &rcpt("a", "x.example")),
        Decision::Accept
    );
    let named = Client {
        hostname: Some("mx.trusted.example"),
        ..client("203.0.113.1")
    };
    assert_eq!(
        policy.check_connect(&named),
        ConnectDecision::Accept { may_relay: true }
    );
}

#[test]
fn connect_ok_reject_and_error() {
    let policy = policy(
        "Connect:198.51.100.7 OK\nConnect:203.0.113.1 REJECT\nConnect:203.0.113.2 ERROR:\"421 4.7.0 Slow down\"\n",
        &[],
    );
    assert_eq!(
        policy.check_connect(&client("198.51.100.7")),
        ConnectDecision::Accept { may_relay: false }
    );
    assert_eq!(
        policy.check_connect(&client("203.0.113.1")),
        ConnectDecision::Reject(Reply::new(
            550,
            EnhancedStatus::new(5, 7, 1),
            "Access denied"
        ))
    );
    assert_eq!(
        policy.check_connect(&client("203.0.113.2")),
        ConnectDecision::Reject(Reply::new(421, EnhancedStatus::new(4, 7, 0), "Slow down"))
    );
}

#[test]
fn to_relay_lets_anyone_send_to_that_domain() {
    let policy = policy("To:lists.example RELAY\n", &[]);
    assert_eq!(
        outsider_rcpt(&policy, &rcpt("a", "lists.example")),
        Decision::Accept
    );
    assert_eq!(
        outsider_rcpt(&policy, &rcpt("a", "sub.lists.example")),
        Decision::Accept
    );
    assert!(matches!(
        outsider_rcpt(&policy, &rcpt("a", "other.example")),
        Decision::Reject(_)
    ));
}

#[test]
fn relay_domains_cover_subdomains_without_case() {
    let policy = policy("", &["Example.COM"]);
    for domain in [
        "example.com",
        "EXAMPLE.com",
        "sub.example.com",
        "a.b.example.com.",
    ] {
        assert_eq!(
            outsider_rcpt(&policy, &rcpt("a", domain)),
            Decision::Accept,
            "{domain}"
        );
    }
    for domain in ["notexample.com", "example.com.evil", "com"] {
        assert!(
            matches!(
                outsider_rcpt(&policy, &rcpt("a", domain)),
                Decision::Reject(_)
            ),
            "{domain}"
        );
    }
    let literal = ForwardPath::Mailbox(Mailbox {
        local_part: "a".into(),
        domain: Domain::Literal("192.0.2.1".parse().unwrap()),
    });
    assert!(matches!(
        outsider_rcpt(&policy, &literal),
        Decision::Reject(_)
    ));
}

#[test]
fn routing_tricks_never_relay_for_outsiders() {
    let policy = policy("To:relay.example RELAY\n", &["example.com"]);
    for local in [
        "victim%elsewhere.net",
        "elsewhere.net!victim",
        "\"victim@elsewhere.net\"",
    ] {
        for domain in ["example.com", "relay.example"] {
            assert_eq!(
                outsider_rcpt(&policy, &rcpt(local, domain)),
                denied(&format!("<{local}@{domain}>... Relaying denied")),
                "{local}@{domain}"
            );
        }
        let inside =
            policy.check_recipient(&client("127.0.0.1"), true, &rcpt(local, "example.com"));
        assert_eq!(
            inside,
            Decision::Accept,
            "a client that may relay may use them"
        );
    }
}

#[test]
fn postmaster_is_always_accepted() {
    let policy = policy("To: REJECT\n", &[]);
    assert_eq!(
        outsider_rcpt(&policy, &ForwardPath::Postmaster),
        Decision::Accept
    );
}

#[test]
fn to_entries_reject_discard_and_error() {
    let policy = policy(
        "To:gone@example.com REJECT\nTo:blackhole@example.com DISCARD\n\
         To:moved@example.com ERROR:5.1.6:550 moved away\n",
        &["example.com"],
    );
    let inside = client("127.0.0.1");
    assert_eq!(
        policy.check_recipient(&inside, true, &rcpt("gone", "example.com")),
        denied("<gone@example.com>... Access denied")
    );
    assert_eq!(
        policy.check_recipient(&inside, true, &rcpt("blackhole", "example.com")),
        Decision::Discard
    );
    assert_eq!(
        policy.check_recipient(&inside, true, &rcpt("moved", "example.com")),
        Decision::Reject(Reply::new(550, EnhancedStatus::new(5, 1, 6), "moved away"))
    );
    assert_eq!(
        policy.check_recipient(&inside, true, &rcpt("other", "example.com")),
        Decision::Accept
    );
}

#[test]
fn to_ok_does_not_open_relaying() {
    let policy = policy("To:elsewhere.example OK\n", &[]);
    assert!(matches!(
        outsider_rcpt(&policy, &rcpt("a", "elsewhere.example")),
        Decision::Reject(_)
    ));
}

#[test]
fn sender_checks() {
    let policy = policy(
        "From:spammer@ REJECT\nFrom:junk.example DISCARD\nFrom:<> ERROR:\"550 5.7.1 No bounces here\"\n\
         From:good.junk.example OK\nConnect:203.0.113.9 DISCARD\n",
        &[],
    );
    let outsider = client("198.51.100.7");
    assert_eq!(
        policy.check_sender(&outsider, &sender("spammer", "any.example")),
        denied("<spammer@any.example>... Access denied")
    );
    assert_eq!(
        policy.check_sender(&outsider, &sender("a", "mx.junk.example")),
        Decision::Discard
    );
    assert_eq!(
        policy.check_sender(&outsider, &sender("a", "good.junk.example")),
        Decision::Accept
    );
    assert_eq!(
        policy.check_sender(&outsider, &ReversePath::Null),
        Decision::Reject(Reply::new(
            550,
            EnhancedStatus::new(5, 7, 1),
            "No bounces here"
        ))
    );
    assert_eq!(
        policy.check_sender(&outsider, &sender("a", "fine.example")),
        Decision::Accept
    );
    assert_eq!(
        policy.check_sender(&client("203.0.113.9"), &sender("a", "fine.example")),
        Decision::Discard,
        "Connect: DISCARD discards every message of that client"
    );
}
