//! Findings about config values that parse but cannot work: listeners whose binds
//! collide, and a smarthost that is not a host.

use std::net::SocketAddr;

use posthorn_config::{Config, Listener};
use posthorn_policy::MailerHost;

use super::finding::{Finding, Severity};
use super::source::ConfigSource;

/// Pairs of listeners on one port where the second bind would fail: a wildcard
/// address of the same family covers every specific one (an error); `[::]` covers
/// IPv4 too where `net.ipv6.bindv6only` is 0, the Linux default (a warning).
pub fn check_listeners(listeners: &[Listener], source: &ConfigSource) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (index, first) in listeners.iter().enumerate() {
        for second in &listeners[index + 1..] {
            if let Some(finding) = collision(first.address, second.address, source) {
                findings.push(finding);
            }
        }
    }
    findings
}

fn collision(first: SocketAddr, second: SocketAddr, source: &ConfigSource) -> Option<Finding> {
    if first.port() != second.port() || first.ip() == second.ip() {
        return None;
    }
    let location = source.line_mentioning("listener", &second.to_string());
    if first.is_ipv4() == second.is_ipv4() {
        let (wide, narrow) = if first.ip().is_unspecified() {
            (first, second)
        } else {
            (second, first)
        };
        return wide.ip().is_unspecified().then(|| Finding {
            severity: Severity::Error,
            check: "listener-collision",
            location,
            problem: format!("listeners {wide} and {narrow} collide: {wide} already takes port {} on every address, so binding {narrow} fails", wide.port()),
            fix: format!("remove the {narrow} listener ({wide} receives its connections), or list specific addresses instead of {}", wide.ip()),
        });
    }
    let (v6, v4) = if first.is_ipv6() {
        (first, second)
    } else {
        (second, first)
    };
    v6.ip().is_unspecified().then(|| Finding {
        severity: Severity::Warning,
        check: "listener-collision",
        location,
        problem: format!("listeners {v6} and {v4} may collide: where net.ipv6.bindv6only is 0 (the Linux default) {v6} takes IPv4 connections too, so the two cannot both be bound"),
        fix: format!("keep only {v6} (it receives IPv4 too), or bind IPv6 to specific addresses"),
    })
}

/// `outbound.smarthost` must be a host as a mailertable entry writes it.
pub fn check_smarthost(config: &Config, source: &ConfigSource) -> Vec<Finding> {
    let Some(smarthost) = &config.outbound.smarthost else {
        return Vec::new();
    };
    match smarthost.parse::<MailerHost>() {
        Ok(_) => Vec::new(),
        Err(error) => vec![Finding {
            severity: Severity::Error,
            check: "smarthost",
            location: source.key("outbound", "smarthost"),
            problem: format!("`outbound.smarthost`: {error}"),
            fix: "write it as \"relay.example.com\" (MX lookup), \"[relay.example.com]\" or \"[relay.example.com]:587\"".to_owned(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use posthorn_config::ListenerKind;

    use super::*;

    const TEXT: &str = "[[listener]]\naddress = \"0.0.0.0:25\"\n\n[[listener]]\naddress = \"127.0.0.1:25\"\n\n[[listener]]\naddress = \"[::]:25\"\n";

    fn listeners(addresses: &[&str]) -> Vec<Listener> {
        addresses
            .iter()
            .map(|address| Listener {
                address: address.parse().unwrap(),
                kind: ListenerKind::Mta,
            })
            .collect()
    }

    fn checks(findings: &[Finding]) -> Vec<(Severity, Option<usize>)> {
        findings
            .iter()
            .map(|f| (f.severity, f.location.line))
            .collect()
    }

    #[test]
    fn a_wildcard_and_a_specific_address_on_one_port_collide() {
        let source = ConfigSource::new("p.toml", TEXT);
        let findings = check_listeners(&listeners(&["0.0.0.0:25", "127.0.0.1:25"]), &source);
        assert_eq!(checks(&findings), [(Severity::Error, Some(5))]);
        assert!(
            findings[0].problem.contains("binding 127.0.0.1:25 fails"),
            "{}",
            findings[0]
        );
    }

    #[test]
    fn ipv6_wildcard_beside_ipv4_is_a_warning() {
        let source = ConfigSource::new("p.toml", TEXT);
        let findings = check_listeners(&listeners(&["0.0.0.0:25", "[::]:25"]), &source);
        assert_eq!(checks(&findings), [(Severity::Warning, Some(8))]);
        let findings = check_listeners(&listeners(&["[::]:25", "127.0.0.1:25"]), &source);
        assert_eq!(checks(&findings), [(Severity::Warning, Some(5))]);
    }

    #[test]
    fn different_ports_or_specific_addresses_do_not_collide() {
        let source = ConfigSource::new("p.toml", TEXT);
        let fine = [
            "0.0.0.0:25",
            "0.0.0.0:587",
            "127.0.0.1:2525",
            "192.0.2.1:2525",
            "[::1]:25",
        ];
        assert_eq!(check_listeners(&listeners(&fine), &source), []);
    }

    #[test]
    fn a_smarthost_that_is_not_a_host_is_an_error_at_its_line() {
        let text =
            "hostname = \"mx.example.com\"\n[outbound]\nsmarthost = \"[relay.example.com:587\"\n";
        let config = Config::from_toml(text, None).unwrap();
        let source = ConfigSource::new("p.toml", text);
        let findings = check_smarthost(&config, &source);
        assert_eq!(checks(&findings), [(Severity::Error, Some(3))]);
        let text =
            "hostname = \"mx.example.com\"\n[outbound]\nsmarthost = \"[relay.example.com]:587\"\n";
        let config = Config::from_toml(text, None).unwrap();
        assert_eq!(check_smarthost(&config, &source), []);
    }
}
