//! The access map parser (sendmail's text form) on raw bytes (first byte even) or on
//! map-shaped text (odd). Checks: no panic; every error names a line of the text;
//! every entry of a map that parsed is found again by looking up its own key, and the
//! last key any lookup tries is the tag's default (`Try_TLS:`).
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use posthorn_policy::{AccessMap, Tag};

/// Pieces of access-map lines; random bytes index into this table.
const MAP_TOKENS: &[&str] = &[
    "Connect:",
    "From:",
    "To:",
    "Try_TLS:",
    "TLS_Srv:",
    "TLS_Rcpt:",
    "TLS_Clt:",
    "Srv_Features:",
    "Spam:",
    "GreetPause:",
    "ClientRate:",
    "ClientConn:",
    "Bogus:",
    "example.com",
    "mx1.mail.outlook.com",
    ".",
    "user@",
    "@",
    "[",
    "]",
    "IPv6:",
    "2001:db8::1",
    "2001:db8",
    "::",
    "192.0.2.1",
    "10.1",
    "127",
    "\t",
    " ",
    "\n",
    "#",
    "\"",
    "OK",
    "RELAY",
    "REJECT",
    "DISCARD",
    "ERROR:",
    "\"550 5.7.1 no\"",
    "ERROR:4.7.0:450 later",
    "NO",
    "YES",
    "VERIFY",
    "ENCR:",
    "VERIFY:",
    "128",
    "+CN:",
    "S",
    "s",
    "V",
    "v",
    "A",
    "a",
    "P",
    "p",
    "D",
    "d",
    "0",
    "99999999999999999999",
    ":",
    "\u{e9}",
    "\r",
];

fuzz_target!(|data: &[u8]| {
    let Some(text) = posthorn_proto_fuzz::text_or_shaped(data, MAP_TOKENS) else {
        return;
    };
    let lines = text.lines().count();
    let map = match AccessMap::parse(&text, Path::new("access")) {
        Ok(map) => map,
        Err(errors) => {
            posthorn_proto_fuzz::assert_line_errors(&errors, &text);
            return;
        }
    };
    let entries = map.entries();
    assert_eq!(entries.len(), map.len());
    for entry in entries {
        assert!(
            (1..=lines).contains(&entry.line),
            "entry at line {}",
            entry.line
        );
        // IPv6 keys are stored as `IPv6:...`, which an address lookup lower-cases.
        if entry.key.is_empty() || entry.key.starts_with("IPv6:") {
            continue;
        }
        let found = map.lookup_address(entry.tag, &entry.key);
        assert_eq!(
            found.matched,
            Some(entry),
            "{}:{} not found",
            entry.tag,
            entry.key
        );
    }
    for tag in Tag::ALL {
        let probes = [
            map.lookup_host(tag, &text),
            map.lookup_address(tag, &text),
            map.lookup_ip(tag, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
        ];
        for lookup in probes {
            if lookup.matched.is_none() {
                assert_eq!(lookup.tried().last(), Some(&format!("{tag}:")));
            }
        }
    }
});
