//! Defaults, the embedded config, and a file that sets every key.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{parse_named, socket};
use crate::*;

const HOURS: u64 = 3600;

#[test]
fn absent_keys_take_production_defaults() {
    let config = parse_named("hostname = \"mx.example.com\"\n").unwrap();
    assert_eq!(config.source, Some(PathBuf::from("posthorn.toml")));
    assert_eq!(config.hostname, "mx.example.com");
    assert_eq!(config.spool, PathBuf::from("/var/spool/posthorn"));
    assert_eq!(
        config.listeners,
        vec![Listener {
            address: socket("0.0.0.0:25"),
            kind: ListenerKind::Mta
        }]
    );
    assert_eq!(config.tls, TlsSettings::default());
    assert_eq!(
        config.outbound,
        Outbound {
            starttls: StartTlsMode::Opportunistic,
            tls_failure: TlsFailure::Plaintext,
            port: 25,
            smarthost: None,
            destination_concurrency: 20,
            connect_timeout: Duration::from_secs(30),
            messages_per_connection: 100,
            tls_failure_memory: Duration::from_secs(24 * HOURS),
            plaintext_retry: PlaintextRetry::Immediate,
            reply_timeout: None,
        }
    );
    assert!(config.dns.nameservers.is_empty());
    let networks: Vec<String> = config
        .relay
        .networks
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(networks, ["127.0.0.0/8", "::1/128"]);
    assert!(config.relay.domains.is_empty());
    assert_eq!(config.maps, Maps::default());
    assert_eq!(
        config.auth,
        Auth {
            password_file: None,
            dovecot_socket: None,
            max_failures: 5,
            failure_window: Duration::from_secs(10 * 60),
            sender_must_match: true,
        }
    );
    assert_eq!(
        config.queue,
        Queue {
            warn_after: Duration::from_secs(4 * HOURS),
            give_up_after: Duration::from_secs(5 * 24 * HOURS),
            retry_min: Duration::from_secs(5 * 60),
            retry_max: Duration::from_secs(HOURS),
            delivery_concurrency: 100,
            in_flow_delay: Duration::from_secs(1),
        }
    );
    assert_eq!(
        config.log,
        LogSettings {
            format: LogFormat::Sendmail,
            file: None,
            syslog: false
        }
    );
    assert_eq!(
        config.limits,
        Limits {
            message_size: 50_000_000,
            recipients: 1000,
            sessions: 1000,
            connections_per_ip_per_minute: 600,
            errors: 20,
            header_size: 1_000_000,
            hops: 100,
        }
    );
    assert_eq!(
        config.timeouts,
        Timeouts {
            command: Duration::from_secs(300),
            data_block: Duration::from_secs(180),
            data_end: Duration::from_secs(600),
            tls_handshake: Duration::from_secs(60),
            greet_pause: Duration::ZERO,
            data_rate_window: Duration::from_secs(30),
            data_min_bytes_per_second: 500,
        }
    );
}

#[test]
fn missing_hostname_uses_the_system_host_name() {
    let config = parse_named("").unwrap();
    let system = names::system_host_name().unwrap();
    assert_eq!(config.hostname, system);
}

#[test]
fn embedded_default_is_the_try_it_out_setup() {
    let config = Config::embedded_default();
    assert_eq!(config.source, None);
    assert_eq!(config.spool, PathBuf::from("./posthorn-spool"));
    assert_eq!(
        config.listeners,
        vec![Listener {
            address: socket("127.0.0.1:2525"),
            kind: ListenerKind::Mta
        }]
    );
    let networks: Vec<String> = config
        .relay
        .networks
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(networks, ["127.0.0.0/8", "::1/128"]);
    assert_eq!(config.outbound.smarthost, None);
    assert_eq!(config.outbound.starttls, StartTlsMode::Opportunistic);
    assert_eq!(config.queue.retry_min, Duration::from_secs(5 * 60));
    assert_eq!(config.queue.retry_max, Duration::from_secs(HOURS));
    assert!(!config.hostname.is_empty());
}

const FULL: &str = r#"
hostname = "MX1.example.com"
spool = "/srv/posthorn/spool"

[[listener]]
address = "0.0.0.0:25"
kind = "mta"

[[listener]]
address = "[::]:587"
kind = "submission"

[[listener]]
address = "192.0.2.1:465"
kind = "smtps"

[tls]
certificate = "/etc/posthorn/cert.pem"
private_key = "/etc/posthorn/key.pem"
client_certificate = "/etc/posthorn/client.pem"
client_private_key = "/etc/posthorn/client.key"
ca_bundle = "/etc/ssl/certs/ca-certificates.crt"

[outbound]
starttls = "verified"
tls_failure = "defer"
port = 2526
smarthost = "[relay.example.com]:587"
destination_concurrency = 5
connect_timeout = "45s"
messages_per_connection = 10
tls_failure_memory = "12h"
plaintext_retry = "next_attempt"

[dns]
nameservers = ["127.0.0.1:5300", "192.0.2.53", "[2001:db8::53]:5353", "2001:db8::54"]

[relay]
networks = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
domains = ["Example.ORG", "lists.example.net"]

[maps]
access = "/etc/posthorn/access"
mailertable = "/etc/posthorn/mailertable"

[auth]
password_file = "/etc/posthorn/passwd"
dovecot_socket = ""
max_failures = 3
failure_window = "30m"
sender_must_match = false

[queue]
warn_after = "1h30m"
give_up_after = "3d"
retry_min = "2m"
retry_max = "90m"
delivery_concurrency = 40
in_flow_delay = "250ms"

[log]
format = "json"
file = "/var/log/posthorn.log"
syslog = false

[limits]
message_size = "10MiB"
recipients = 50
sessions = 200
connections_per_ip_per_minute = 0
errors = 5
header_size = "64KiB"
hops = 30

[timeouts]
command = "2m"
data_block = "90s"
data_end = "15m"
tls_handshake = "30s"
greet_pause = "5s"
data_rate_window = "1m"
data_min_bytes_per_second = 0
"#;

#[test]
fn full_file_sets_every_key() {
    let config = parse_named(FULL).unwrap();
    assert_eq!(config.hostname, "MX1.example.com");
    assert_eq!(config.spool, PathBuf::from("/srv/posthorn/spool"));
    let listeners: Vec<(SocketAddr, ListenerKind)> = config
        .listeners
        .iter()
        .map(|l| (l.address, l.kind))
        .collect();
    assert_eq!(
        listeners,
        [
            (socket("0.0.0.0:25"), ListenerKind::Mta),
            (socket("[::]:587"), ListenerKind::Submission),
            (socket("192.0.2.1:465"), ListenerKind::Smtps),
        ]
    );
    let path = |p: &str| Some(PathBuf::from(p));
    assert_eq!(
        config.tls,
        TlsSettings {
            certificate: path("/etc/posthorn/cert.pem"),
            private_key: path("/etc/posthorn/key.pem"),
            client_certificate: path("/etc/posthorn/client.pem"),
            client_private_key: path("/etc/posthorn/client.key"),
            ca_bundle: path("/etc/ssl/certs/ca-certificates.crt"),
        }
    );
    assert_eq!(
        config.outbound,
        Outbound {
            starttls: StartTlsMode::Verified,
            tls_failure: TlsFailure::Defer,
            port: 2526,
            smarthost: Some("[relay.example.com]:587".into()),
            destination_concurrency: 5,
            connect_timeout: Duration::from_secs(45),
            messages_per_connection: 10,
            tls_failure_memory: Duration::from_secs(12 * HOURS),
            plaintext_retry: PlaintextRetry::NextAttempt,
            reply_timeout: None,
        }
    );
    assert_eq!(
        config.dns.nameservers,
        [
            socket("127.0.0.1:5300"),
            socket("192.0.2.53:53"),
            socket("[2001:db8::53]:5353"),
            socket("[2001:db8::54]:53"),
        ]
    );
    let networks: Vec<String> = config
        .relay
        .networks
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(networks, ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"]);
    assert_eq!(config.relay.domains, ["example.org", "lists.example.net"]);
    assert_eq!(
        config.maps,
        Maps {
            access: path("/etc/posthorn/access"),
            mailertable: path("/etc/posthorn/mailertable")
        }
    );
    assert_eq!(
        config.auth,
        Auth {
            password_file: path("/etc/posthorn/passwd"),
            dovecot_socket: None,
            max_failures: 3,
            failure_window: Duration::from_secs(30 * 60),
            sender_must_match: false,
        }
    );
    assert_eq!(
        config.queue,
        Queue {
            warn_after: Duration::from_secs(5400),
            give_up_after: Duration::from_secs(3 * 24 * HOURS),
            retry_min: Duration::from_secs(120),
            retry_max: Duration::from_secs(90 * 60),
            delivery_concurrency: 40,
            in_flow_delay: Duration::from_millis(250),
        }
    );
    assert_eq!(
        config.log,
        LogSettings {
            format: LogFormat::Json,
            file: path("/var/log/posthorn.log"),
            syslog: false
        }
    );
    assert_eq!(
        config.limits,
        Limits {
            message_size: 10 * 1024 * 1024,
            recipients: 50,
            sessions: 200,
            connections_per_ip_per_minute: 0,
            errors: 5,
            header_size: 64 * 1024,
            hops: 30,
        }
    );
    assert_eq!(
        config.timeouts,
        Timeouts {
            command: Duration::from_secs(120),
            data_block: Duration::from_secs(90),
            data_end: Duration::from_secs(900),
            tls_handshake: Duration::from_secs(30),
            greet_pause: Duration::from_secs(5),
            data_rate_window: Duration::from_secs(60),
            data_min_bytes_per_second: 0,
        }
    );
}

#[test]
fn empty_strings_mean_unset() {
    let text = "hostname = \"a.example\"\n[maps]\naccess = \"\"\nmailertable = \"\"\n\
                [outbound]\nsmarthost = \"\"\n[log]\nfile = \"\"\n[tls]\ncertificate = \"\"\n";
    let config = parse_named(text).unwrap();
    assert_eq!(config.maps, Maps::default());
    assert_eq!(config.outbound.smarthost, None);
    assert_eq!(config.log.file, None);
    assert_eq!(config.tls.certificate, None);
}

#[test]
fn plain_integer_size_is_bytes() {
    let config =
        parse_named("hostname = \"a.example\"\n[limits]\nmessage_size = 1048576\n").unwrap();
    assert_eq!(config.limits.message_size, 1_048_576);
}

#[test]
fn retry_min_may_equal_retry_max() {
    let config = parse_named(
        "hostname = \"a.example\"\n[queue]\nretry_min = \"10m\"\nretry_max = \"10m\"\n",
    )
    .unwrap();
    assert_eq!(config.queue.retry_min, Duration::from_secs(600));
    assert_eq!(config.queue.retry_max, Duration::from_secs(600));
}

#[test]
fn zero_tls_failure_memory_disables_the_memory() {
    let config = parse_named("[outbound]\ntls_failure_memory = \"0s\"\n").unwrap();
    assert_eq!(config.outbound.tls_failure_memory, Duration::ZERO);
}

#[test]
fn inbound_tls_failure_memory_defaults_to_a_day_and_zero_disables_it() {
    let config = parse_named("hostname = \"a.example\"\n").unwrap();
    assert_eq!(
        config.inbound,
        Inbound {
            tls_failure_memory: Duration::from_secs(24 * HOURS)
        }
    );
    let config = parse_named("[inbound]\ntls_failure_memory = \"0s\"\n").unwrap();
    assert_eq!(config.inbound.tls_failure_memory, Duration::ZERO);
    let config = parse_named("[inbound]\ntls_failure_memory = \"2h\"\n").unwrap();
    assert_eq!(
        config.inbound.tls_failure_memory,
        Duration::from_secs(2 * HOURS)
    );
}
