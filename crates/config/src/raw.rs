//! Stage one: the config file exactly as written, parsed by `toml` and serde.
//!
//! Every table denies unknown fields so a misspelt key is an error with its position.
//! Values that need checking beyond their TOML type are kept as [`Spanned`] so the
//! second stage ([`crate::validate`]) can point at them.

use serde::Deserialize;
use toml::Spanned;

use crate::types::{ListenerKind, LogFormat, PlaintextRetry, StartTlsMode, TlsFailure};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub hostname: Option<Spanned<String>>,
    pub spool: Option<String>,
    pub listener: Option<Vec<RawListener>>,
    #[serde(default)]
    pub tls: RawTls,
    #[serde(default)]
    pub inbound: RawInbound,
    #[serde(default)]
    pub outbound: RawOutbound,
    #[serde(default)]
    pub dns: RawDns,
    #[serde(default)]
    pub relay: RawRelay,
    #[serde(default)]
    pub maps: RawMaps,
    #[serde(default)]
    pub auth: RawAuth,
    #[serde(default)]
    pub queue: RawQueue,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub timeouts: RawTimeouts,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawListener {
    pub address: Spanned<String>,
    #[serde(default)]
    pub kind: ListenerKind,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
    pub certificate: Option<String>,
    pub private_key: Option<String>,
    pub client_certificate: Option<String>,
    pub client_private_key: Option<String>,
    pub ca_bundle: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInbound {
    pub tls_failure_memory: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutbound {
    pub starttls: Option<StartTlsMode>,
    pub tls_failure: Option<TlsFailure>,
    pub port: Option<Spanned<u16>>,
    pub smarthost: Option<String>,
    pub destination_concurrency: Option<Spanned<u64>>,
    pub connect_timeout: Option<Spanned<String>>,
    pub messages_per_connection: Option<Spanned<u64>>,
    pub tls_failure_memory: Option<Spanned<String>>,
    pub plaintext_retry: Option<PlaintextRetry>,
    pub reply_timeout: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDns {
    #[serde(default)]
    pub nameservers: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRelay {
    pub networks: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub domains: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMaps {
    pub access: Option<String>,
    pub mailertable: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    pub password_file: Option<Spanned<String>>,
    pub dovecot_socket: Option<Spanned<String>>,
    pub max_failures: Option<Spanned<u32>>,
    pub failure_window: Option<Spanned<String>>,
    pub sender_must_match: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQueue {
    pub warn_after: Option<Spanned<String>>,
    pub give_up_after: Option<Spanned<String>>,
    pub retry_min: Option<Spanned<String>>,
    pub retry_max: Option<Spanned<String>>,
    pub delivery_concurrency: Option<Spanned<u64>>,
    pub in_flow_delay: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLog {
    pub format: Option<LogFormat>,
    pub file: Option<String>,
    pub syslog: Option<Spanned<bool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub message_size: Option<Spanned<RawSize>>,
    pub recipients: Option<Spanned<u64>>,
    pub sessions: Option<Spanned<u64>>,
    pub connections_per_ip_per_minute: Option<Spanned<u32>>,
    pub errors: Option<Spanned<u32>>,
    pub header_size: Option<Spanned<RawSize>>,
    pub hops: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimeouts {
    pub command: Option<Spanned<String>>,
    pub data_block: Option<Spanned<String>>,
    pub data_end: Option<Spanned<String>>,
    pub tls_handshake: Option<Spanned<String>>,
    pub greet_pause: Option<Spanned<String>>,
    pub data_rate_window: Option<Spanned<String>>,
    pub data_min_bytes_per_second: Option<u64>,
}

/// A size as written: a plain integer (bytes) or a string with a unit (`"50MB"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawSize {
    Bytes(u64),
    Text(String),
}
