//! The mailertable parser (sendmail's text form) on raw bytes (first byte even) or on
//! mailertable-shaped text (odd). Checks: no panic; every error names a line of the
//! text; every entry of a table that parsed is found again by a lookup of its own
//! domain, and the lookup keys of any domain end with sendmail's catch-all `.`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use posthorn_policy::mailertable::lookup_keys;
use posthorn_policy::Mailertable;

/// Pieces of mailertable lines; random bytes index into this table.
const TABLE_TOKENS: &[&str] = &[
    "example.com",
    ".example.com",
    ".",
    "a.b",
    "esmtp:",
    "smtp:",
    "smtp8:",
    "dsmtp:",
    "relay:",
    "local:",
    "error:",
    "nohost",
    "5.1.1:",
    "550 ",
    "4.4.1:",
    "450 ",
    "gone",
    "[",
    "]",
    ":",
    "2525",
    "0",
    "65536",
    "99999999999999999999",
    "IPv6:",
    "2001:db8::25",
    "192.0.2.10",
    "relay.example.com",
    "-bad-.example",
    "\t",
    " ",
    "\n",
    "#",
    "\u{e9}",
    "\r",
    "@",
];

fuzz_target!(|data: &[u8]| {
    let Some(text) = posthorn_proto_fuzz::text_or_shaped(data, TABLE_TOKENS) else {
        return;
    };
    for line in text.lines() {
        let keys = lookup_keys(line);
        assert_eq!(
            keys.last().map(String::as_str),
            Some("."),
            "{line:?}: {keys:?}"
        );
    }
    let table = match Mailertable::parse(&text, Path::new("mailertable")) {
        Ok(table) => table,
        Err(errors) => {
            posthorn_proto_fuzz::assert_line_errors(&errors, &text);
            return;
        }
    };
    for line in text.lines() {
        let Some(key) = line.split_whitespace().next() else {
            continue;
        };
        if key.starts_with('#') || (key.starts_with('.') && key != ".") {
            continue;
        }
        let own = normalized(key);
        match table.lookup(key) {
            Some(entry) => assert_eq!(entry.key, own, "{key} found {entry:?}"),
            None => panic!("{key} parsed but is not found"),
        }
    }
});

/// What the table stores a key as: lower case, without one trailing dot (`.` stays).
fn normalized(key: &str) -> String {
    let lower = key.to_ascii_lowercase();
    match lower.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() => stripped.to_owned(),
        _ => lower,
    }
}
