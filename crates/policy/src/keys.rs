//! Access-map keys: how a key in the file is normalised, and which keys a lookup
//! tries, in sendmail's order.
//!
//! Keys are compared case-insensitively (they are lower-cased on both sides, as
//! `makemap` does by default). IPv6 keys are written with sendmail's `IPv6:` prefix
//! and stored in full, uncompressed form without leading zeros
//! (`IPv6:2001:db8:0:0:0:0:0:1`), so a map may spell an address compressed or in
//! full and still match; a prefix is written as leading groups (`IPv6:2001:db8`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

const IPV6_PREFIX: &str = "IPv6:";

/// Why a key in the map cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("`{0}` is not an IPv6 address or prefix of colon-separated groups")]
    Ipv6(String),
}

/// The stored form of a key as written after its tag (or untagged).
pub fn normalize_key(raw: &str) -> Result<String, KeyError> {
    let unbracketed = raw
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(raw);
    if let Some(rest) = strip_ipv6_prefix(unbracketed) {
        return normalize_ipv6(rest).map(|groups| format!("{IPV6_PREFIX}{groups}"));
    }
    if unbracketed != raw && unbracketed.parse::<Ipv4Addr>().is_ok() {
        return Ok(unbracketed.to_owned());
    }
    Ok(normalize_name(raw))
}

/// Whether `key` starts with sendmail's `IPv6:` marker (any case).
pub fn strip_ipv6_prefix(key: &str) -> Option<&str> {
    let head = key.get(..IPV6_PREFIX.len())?;
    head.eq_ignore_ascii_case(IPV6_PREFIX)
        .then(|| &key[IPV6_PREFIX.len()..])
}

fn normalize_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() => stripped.to_owned(),
        _ => lower,
    }
}

fn normalize_ipv6(text: &str) -> Result<String, KeyError> {
    if let Ok(address) = text.parse::<Ipv6Addr>() {
        return Ok(ipv6_groups(address).join(":"));
    }
    let groups: Option<Vec<String>> = text
        .split(':')
        .map(|group| {
            let valid = (1..=4).contains(&group.len());
            valid
                .then(|| u16::from_str_radix(group, 16).ok())
                .flatten()
                .map(|value| format!("{value:x}"))
        })
        .collect();
    match groups {
        Some(groups) if groups.len() < 8 => Ok(groups.join(":")),
        _ => Err(KeyError::Ipv6(text.to_owned())),
    }
}

fn ipv6_groups(address: Ipv6Addr) -> Vec<String> {
    address
        .segments()
        .iter()
        .map(|group| format!("{group:x}"))
        .collect()
}

/// `mx1.mail.outlook.com`, `mail.outlook.com`, `outlook.com`, `com`.
///
/// An address literal (`[192.0.2.1]`) gives the keys of its IP address.
pub fn host_keys(host: &str) -> Vec<String> {
    let host = normalize_name(host.trim());
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let inner = strip_ipv6_prefix(inner).unwrap_or(inner);
        if let Ok(ip) = inner.parse::<IpAddr>() {
            return ip_keys(ip);
        }
        return vec![host];
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip_keys(ip);
    }
    domain_keys(&host)
}

fn domain_keys(domain: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut rest = domain;
    while !rest.is_empty() {
        keys.push(rest.to_owned());
        rest = rest.split_once('.').map_or("", |(_, parent)| parent);
    }
    keys
}

/// IPv4: `10.1.2.3`, `10.1.2`, `10.1`, `10`. IPv6: `IPv6:` with 8 groups down to 1.
/// An IPv4-mapped IPv6 address (a dual-stack socket's view of an IPv4 client) is
/// looked up as the IPv4 address it is.
pub fn ip_keys(ip: IpAddr) -> Vec<String> {
    match ip {
        IpAddr::V4(v4) => ipv4_keys(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => ipv4_keys(v4),
            None => {
                let groups = ipv6_groups(v6);
                (1..=groups.len())
                    .rev()
                    .map(|count| format!("{IPV6_PREFIX}{}", groups[..count].join(":")))
                    .collect()
            }
        },
    }
}

fn ipv4_keys(ip: Ipv4Addr) -> Vec<String> {
    let octets: Vec<String> = ip.octets().iter().map(u8::to_string).collect();
    (1..=octets.len())
        .rev()
        .map(|count| octets[..count].join("."))
        .collect()
}

/// `user@sub.example.com`, `sub.example.com`, `example.com`, `com`, `user@`.
///
/// Something without `@` (the null sender `<>`, a bare `postmaster`) is tried as is.
pub fn address_keys(address: &str) -> Vec<String> {
    let address = address.trim().to_ascii_lowercase();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return vec![address];
    };
    let mut keys = vec![address.clone()];
    if domain.starts_with('[') {
        keys.push(domain.to_owned());
    } else {
        keys.extend(domain_keys(&normalize_name(domain)));
    }
    keys.push(format!("{local}@"));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_name_tries_each_parent() {
        assert_eq!(
            host_keys("MX1.Mail.Outlook.com."),
            [
                "mx1.mail.outlook.com",
                "mail.outlook.com",
                "outlook.com",
                "com"
            ]
        );
        assert_eq!(host_keys("localhost"), ["localhost"]);
    }

    #[test]
    fn ipv4_tries_each_shorter_prefix() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(ip_keys(ip), ["10.1.2.3", "10.1.2", "10.1", "10"]);
        assert_eq!(
            host_keys("[10.1.2.3]"),
            ["10.1.2.3", "10.1.2", "10.1", "10"]
        );
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(ip_keys(mapped), ["10.1.2.3", "10.1.2", "10.1", "10"]);
    }

    #[test]
    fn ipv6_tries_full_form_then_group_prefixes() {
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            ip_keys(ip),
            [
                "IPv6:2001:db8:0:0:0:0:0:1",
                "IPv6:2001:db8:0:0:0:0:0",
                "IPv6:2001:db8:0:0:0:0",
                "IPv6:2001:db8:0:0:0",
                "IPv6:2001:db8:0:0",
                "IPv6:2001:db8:0",
                "IPv6:2001:db8",
                "IPv6:2001",
            ]
        );
        assert_eq!(
            host_keys("[IPv6:2001:db8::1]")[0],
            "IPv6:2001:db8:0:0:0:0:0:1"
        );
    }

    #[test]
    fn address_tries_itself_its_domains_then_the_local_part() {
        assert_eq!(
            address_keys("User@Sub.Example.com"),
            [
                "user@sub.example.com",
                "sub.example.com",
                "example.com",
                "com",
                "user@"
            ]
        );
        assert_eq!(
            address_keys("a@[192.0.2.1]"),
            ["a@[192.0.2.1]", "[192.0.2.1]", "a@"]
        );
        assert_eq!(address_keys("<>"), ["<>"]);
    }

    #[test]
    fn keys_in_the_map_are_normalised() {
        let cases = [
            ("Example.COM", "example.com"),
            ("example.com.", "example.com"),
            ("[192.0.2.1]", "192.0.2.1"),
            ("10.1", "10.1"),
            ("IPv6:2001:db8::1", "IPv6:2001:db8:0:0:0:0:0:1"),
            (
                "ipv6:2001:0db8:0000:0000:0000:0000:0000:0001",
                "IPv6:2001:db8:0:0:0:0:0:1",
            ),
            ("[IPv6:2001:db8::1]", "IPv6:2001:db8:0:0:0:0:0:1"),
            ("IPv6:2001:0DB8", "IPv6:2001:db8"),
            ("", ""),
        ];
        for (raw, stored) in cases {
            assert_eq!(normalize_key(raw).as_deref(), Ok(stored), "{raw}");
        }
        assert!(normalize_key("IPv6:2001:xyz").is_err());
        assert!(normalize_key("IPv6:1:2:3:4:5:6:7:8:9").is_err());
        assert!(normalize_key("IPv6:").is_err());
    }
}
