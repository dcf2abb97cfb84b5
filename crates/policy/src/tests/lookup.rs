//! Lookup order: exactly the keys sendmail tries, and the first match wins.

use std::net::IpAddr;

use super::map;
use crate::{Action, Tag, Value};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn host_lookup_order_ends_with_the_bare_default() {
    let empty = map("");
    let lookup = empty.lookup_host(Tag::TryTls, "mx1.mail.outlook.com");
    assert_eq!(
        lookup.tried(),
        [
            "Try_TLS:mx1.mail.outlook.com",
            "Try_TLS:mail.outlook.com",
            "Try_TLS:outlook.com",
            "Try_TLS:com",
            "Try_TLS:",
        ]
    );
    assert_eq!(lookup.matched, None);
}

#[test]
fn host_lookup_stops_at_the_most_specific_match() {
    let access = map("Try_TLS:outlook.com NO\nTry_TLS:com YES\nTry_TLS: YES\n");
    let lookup = access.lookup_host(Tag::TryTls, "MX1.mail.Outlook.COM");
    assert_eq!(lookup.tried().len(), 3);
    let entry = lookup.matched.unwrap();
    assert_eq!((entry.key.as_str(), entry.line), ("outlook.com", 1));
    assert_eq!(entry.value, Value::TryTls(false));

    let lookup = access.lookup_host(Tag::TryTls, "mx.example.org");
    assert_eq!(lookup.matched.map(|e| e.line), Some(3), "the bare default");
}

#[test]
fn lookups_only_see_their_own_tag() {
    let access = map("To:example.com RELAY\n");
    assert_eq!(
        access.lookup_host(Tag::Connect, "example.com").matched,
        None
    );
    assert!(access
        .lookup_address(Tag::To, "a@example.com")
        .matched
        .is_some());
}

#[test]
fn ipv4_lookup_order() {
    let access = map("Connect:10.1 REJECT\n");
    let lookup = access.lookup_ip(Tag::Connect, ip("10.1.2.3"));
    assert_eq!(
        lookup.tried(),
        ["Connect:10.1.2.3", "Connect:10.1.2", "Connect:10.1"]
    );
    assert_eq!(lookup.matched.map(|e| e.line), Some(1));

    let lookup = access.lookup_ip(Tag::Connect, ip("10.2.0.1"));
    assert_eq!(
        lookup.tried(),
        [
            "Connect:10.2.0.1",
            "Connect:10.2.0",
            "Connect:10.2",
            "Connect:10",
            "Connect:"
        ]
    );
    assert_eq!(lookup.matched, None);
}

#[test]
fn ipv6_lookup_order_and_both_spellings_in_the_map() {
    let empty = map("");
    let lookup = empty.lookup_ip(Tag::Connect, ip("2001:db8::1"));
    assert_eq!(
        lookup.tried(),
        [
            "Connect:IPv6:2001:db8:0:0:0:0:0:1",
            "Connect:IPv6:2001:db8:0:0:0:0:0",
            "Connect:IPv6:2001:db8:0:0:0:0",
            "Connect:IPv6:2001:db8:0:0:0",
            "Connect:IPv6:2001:db8:0:0",
            "Connect:IPv6:2001:db8:0",
            "Connect:IPv6:2001:db8",
            "Connect:IPv6:2001",
            "Connect:",
        ]
    );
    for spelling in [
        "Connect:IPv6:2001:db8::1",
        "Connect:IPv6:2001:0db8:0000:0000:0000:0000:0000:0001",
        "IPv6:2001:db8::1",
        "[IPv6:2001:db8::1]",
    ] {
        let access = map(&format!("{spelling} RELAY\n"));
        let lookup = access.lookup_ip(Tag::Connect, ip("2001:db8::1"));
        assert_eq!(lookup.tried().len(), 1, "{spelling}");
        assert!(lookup.matched.is_some(), "{spelling}");
    }
    let access = map("Connect:IPv6:2001:DB8 RELAY\n");
    let lookup = access.lookup_ip(Tag::Connect, ip("2001:db8:5::7"));
    assert_eq!(
        lookup.tried().last().map(String::as_str),
        Some("Connect:IPv6:2001:db8")
    );
    assert!(lookup.matched.is_some());
}

#[test]
fn address_lookup_order() {
    let empty = map("");
    let lookup = empty.lookup_address(Tag::From, "user@sub.example.com");
    assert_eq!(
        lookup.tried(),
        [
            "From:user@sub.example.com",
            "From:sub.example.com",
            "From:example.com",
            "From:com",
            "From:user@",
            "From:",
        ]
    );
    let access = map("From:spammer@ REJECT\nFrom:example.com OK\n");
    let lookup = access.lookup_address(Tag::From, "spammer@sub.example.com");
    assert_eq!(
        lookup.matched.map(|e| e.line),
        Some(2),
        "domain before user@"
    );
    let lookup = access.lookup_address(Tag::From, "spammer@elsewhere.net");
    assert_eq!(lookup.matched.map(|e| e.line), Some(1));
    assert_eq!(
        lookup.tried().last().map(String::as_str),
        Some("From:spammer@")
    );
}

#[test]
fn connect_lookup_tries_host_then_ip_then_default() {
    let access = map("Connect:192.0.2 RELAY\nConnect: OK\n");
    let lookup =
        access.lookup_host_then_ip(Tag::Connect, Some("mail.example.com"), ip("192.0.2.9"));
    assert_eq!(
        lookup.tried(),
        [
            "Connect:mail.example.com",
            "Connect:example.com",
            "Connect:com",
            "Connect:192.0.2.9",
            "Connect:192.0.2",
        ]
    );
    assert_eq!(
        lookup.matched.map(|e| &e.value),
        Some(&Value::Action(Action::Relay))
    );
    let lookup = access.lookup_host_then_ip(Tag::Connect, None, ip("198.51.100.1"));
    assert_eq!(lookup.tried().last().map(String::as_str), Some("Connect:"));
    assert_eq!(lookup.matched.map(|e| e.line), Some(2));
}

#[test]
fn untagged_keys_are_connect_keys() {
    let access = map("10.1.2.3 RELAY\nspam.example REJECT\n");
    assert!(access
        .lookup_ip(Tag::Connect, ip("10.1.2.3"))
        .matched
        .is_some());
    assert!(access
        .lookup_host(Tag::Connect, "mx.spam.example")
        .matched
        .is_some());
    assert_eq!(
        access.lookup_address(Tag::From, "a@spam.example").matched,
        None
    );
}

#[test]
fn comments_blank_lines_and_case() {
    let access = map(
        "# sendmail access map\n\n   \nCONNECT:Example.COM\tRELAY  # trusted\n\
         To:b.example ERROR:\"550 5.7.1 see #5\"\n",
    );
    assert_eq!(access.len(), 2);
    let entry = access
        .lookup_host(Tag::Connect, "example.com")
        .matched
        .unwrap();
    assert_eq!(
        (entry.tag, entry.key.as_str(), entry.line),
        (Tag::Connect, "example.com", 4)
    );
    assert_eq!(entry.value, Value::Action(Action::Relay));
    let entry = access
        .lookup_address(Tag::To, "x@b.example")
        .matched
        .unwrap();
    assert_eq!(entry.value.to_string(), "ERROR:\"550 5.7.1 see #5\"");
}

#[test]
fn empty_map_has_no_path_and_matches_nothing() {
    let access = crate::AccessMap::default();
    assert_eq!(access.path(), None);
    assert!(access.is_empty());
    assert_eq!(access.lookup_host(Tag::TlsSrv, "a.example").matched, None);
    assert_eq!(map("").path(), Some(std::path::Path::new("access")));
}
