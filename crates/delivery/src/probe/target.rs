//! What `posthorn probe DESTINATION` was asked to look at, in mailertable syntax: a bare
//! `domain` goes through routing (mailertable, smarthost, MX) as its mail would;
//! `domain:port` is the domain's MX hosts on that port; `[host]` and `[host]:port` are
//! that host's own addresses; `[ip]`, `[ip]:port`, `[IPv6:...]` and a bare address are
//! that address.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use posthorn_policy::mailertable::{HostError, MailerHost};

/// A parsed probe destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeTarget {
    /// A mail domain: routed as delivery routes it (`port` set: MX only, on that port).
    Domain { name: String, port: Option<u16> },
    /// One host name: its A/AAAA addresses, no MX lookup.
    Host { name: String, port: Option<u16> },
    /// One address.
    Address { ip: IpAddr, port: Option<u16> },
}

impl ProbeTarget {
    /// The recipient domain `TLS_Rcpt:` is looked up with: the domain, else the host or
    /// address itself (as `posthorn policy` does by default).
    pub fn recipient_domain(&self) -> String {
        match self {
            ProbeTarget::Domain { name, .. } | ProbeTarget::Host { name, .. } => name.clone(),
            ProbeTarget::Address { ip, .. } => ip.to_string(),
        }
    }
}

impl FromStr for ProbeTarget {
    type Err = HostError;

    fn from_str(text: &str) -> Result<ProbeTarget, HostError> {
        Ok(match text.trim().parse()? {
            MailerHost::Mx { host, port } => ProbeTarget::Domain { name: host, port },
            MailerHost::Direct { host, port } => match host.parse::<IpAddr>() {
                Ok(ip) => ProbeTarget::Address { ip, port },
                Err(_) => ProbeTarget::Host { name: host, port },
            },
        })
    }
}

impl fmt::Display for ProbeTarget {
    /// The canonical spelling: `example.com`, `[mx.example.com]:2525`, `[IPv6:::1]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let port = |port: &Option<u16>| port.map(|port| format!(":{port}")).unwrap_or_default();
        match self {
            ProbeTarget::Domain { name, port: p } => write!(f, "{name}{}", port(p)),
            ProbeTarget::Host { name, port: p } => write!(f, "[{name}]{}", port(p)),
            ProbeTarget::Address {
                ip: IpAddr::V4(ip),
                port: p,
            } => write!(f, "[{ip}]{}", port(p)),
            ProbeTarget::Address {
                ip: IpAddr::V6(ip),
                port: p,
            } => write!(f, "[IPv6:{ip}]{}", port(p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ProbeTarget {
        text.parse().unwrap()
    }

    #[test]
    fn each_form_of_destination() {
        let cases = [
            ("Example.COM", "example.com", None),
            ("example.com:2525", "example.com", Some(2525)),
        ];
        for (text, name, port) in cases {
            let expected = ProbeTarget::Domain {
                name: name.into(),
                port,
            };
            assert_eq!(parse(text), expected, "{text}");
        }
        assert_eq!(
            parse("[mx.example.com]:587"),
            ProbeTarget::Host {
                name: "mx.example.com".into(),
                port: Some(587)
            }
        );
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for text in ["[192.0.2.1]", "192.0.2.1"] {
            assert_eq!(parse(text), ProbeTarget::Address { ip, port: None });
        }
        assert_eq!(
            parse("[192.0.2.1]:25"),
            ProbeTarget::Address { ip, port: Some(25) }
        );
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            parse("[IPv6:2001:db8::1]"),
            ProbeTarget::Address { ip: v6, port: None }
        );
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "example.com",
            "example.com:2525",
            "[mx.example.com]",
            "[192.0.2.1]:25",
            "[IPv6:2001:db8::1]",
        ] {
            assert_eq!(parse(text).to_string(), text);
        }
    }

    #[test]
    fn bad_destinations_are_errors() {
        for text in ["", "[192.0.2.1", "[x]:notaport", "a b"] {
            assert!(text.parse::<ProbeTarget>().is_err(), "{text:?}");
        }
    }

    #[test]
    fn the_recipient_domain_is_the_destination_itself() {
        assert_eq!(parse("example.com:25").recipient_domain(), "example.com");
        assert_eq!(parse("[192.0.2.1]").recipient_domain(), "192.0.2.1");
    }
}
