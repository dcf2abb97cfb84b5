//! Stage two: the validated, typed configuration the rest of Posthorn reads.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file read; `None` for the embedded default.
    pub source: Option<PathBuf>,
    /// EHLO name, banner and `Received:` name.
    pub hostname: String,
    pub spool: PathBuf,
    pub listeners: Vec<Listener>,
    pub tls: TlsSettings,
    pub inbound: Inbound,
    pub outbound: Outbound,
    pub dns: Dns,
    pub relay: Relay,
    pub maps: Maps,
    pub auth: Auth,
    pub queue: Queue,
    pub log: LogSettings,
    pub limits: Limits,
    pub timeouts: Timeouts,
}

/// One `[[listener]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    pub address: SocketAddr,
    pub kind: ListenerKind,
}

/// What a listener speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerKind {
    /// Port 25 style: mail from anyone to our domains, relaying by policy.
    #[default]
    Mta,
    /// Port 587: AUTH required before MAIL.
    Submission,
    /// Port 465: TLS from the first byte (RFC 8314), then SMTP as on an `mta` listener.
    Smtps,
}

impl std::fmt::Display for ListenerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ListenerKind::Mta => "mta",
            ListenerKind::Submission => "submission",
            ListenerKind::Smtps => "smtps",
        })
    }
}

/// `[tls]`: certificate files. Unset means "none" (or the system store for `ca_bundle`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    pub certificate: Option<PathBuf>,
    pub private_key: Option<PathBuf>,
    pub client_certificate: Option<PathBuf>,
    pub client_private_key: Option<PathBuf>,
    pub ca_bundle: Option<PathBuf>,
}

/// `[inbound]`: how the server treats connecting clients' TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inbound {
    /// How long a client whose STARTTLS handshake failed is not offered STARTTLS
    /// (remembered by IP, so its mail gets through in plaintext); zero disables it.
    pub tls_failure_memory: Duration,
}

/// `[outbound]`: how deliveries to other servers use TLS and where they go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    pub starttls: StartTlsMode,
    pub tls_failure: TlsFailure,
    pub port: u16,
    /// `"[relay.example.com]:587"` as written; `None` means delivery by MX.
    pub smarthost: Option<String>,
    /// Connections open at once to one destination (Postfix's
    /// `default_destination_concurrency_limit`).
    pub destination_concurrency: usize,
    /// How long to wait for a TCP connection to a destination.
    pub connect_timeout: Duration,
    /// Messages sent over one connection before `QUIT` (connection reuse).
    pub messages_per_connection: usize,
    /// How long a host or IP whose STARTTLS failed goes straight to plaintext;
    /// zero disables the broken-TLS memory.
    pub tls_failure_memory: Duration,
    /// When the plaintext retry after a failed STARTTLS happens.
    pub plaintext_retry: PlaintextRetry,
    /// One wait for every reply of a remote server, replacing the RFC 5321 §4.5.3.2
    /// per-phase client timeouts (5 minutes, 10 after the final dot); `None` keeps them.
    pub reply_timeout: Option<Duration>,
}

/// `outbound.starttls`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartTlsMode {
    /// Never send STARTTLS (sendmail's `M=S`).
    Off,
    /// STARTTLS when offered; a broken handshake does not stop delivery.
    #[default]
    Opportunistic,
    /// TLS or defer; the certificate is not checked.
    Required,
    /// TLS with a verified certificate, or defer.
    Verified,
}

/// `outbound.tls_failure`: what a failed opportunistic handshake leads to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsFailure {
    /// Reconnect and deliver without STARTTLS.
    #[default]
    Plaintext,
    /// Leave the message queued (sendmail's behaviour).
    Defer,
}

/// `outbound.plaintext_retry`: when a delivery whose STARTTLS failed is retried without TLS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaintextRetry {
    /// Reconnect in the same attempt (Exim, OpenSMTPD): the message leaves at once.
    #[default]
    Immediate,
    /// Defer, and retry in plaintext at the next attempt (Postfix 3).
    NextAttempt,
}

/// `[dns]`: empty `nameservers` means the system resolver configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dns {
    pub nameservers: Vec<SocketAddr>,
}

/// `[relay]`: who may relay, and which recipient domains anyone may send to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    pub networks: Vec<IpNet>,
    /// Lower-cased; each also covers its subdomains.
    pub domains: Vec<String>,
}

/// `[maps]`: sendmail text maps; an empty string in the file means `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maps {
    pub access: Option<PathBuf>,
    pub mailertable: Option<PathBuf>,
}

/// `[auth]`: where AUTH credentials are checked (at most one backend, as Postfix
/// allows one SASL backend), how failed attempts are throttled, and what an
/// authenticated user may send as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub password_file: Option<PathBuf>,
    pub dovecot_socket: Option<PathBuf>,
    /// Failed AUTH attempts from one client IP within `failure_window` after which
    /// further attempts get `421` until the window passes; 0 means no limit.
    pub max_failures: u32,
    pub failure_window: Duration,
    /// An authenticated user's MAIL FROM must be one of its addresses: the user name
    /// when it is an address, else `user@hostname`.
    pub sender_must_match: bool,
}

impl Default for Auth {
    /// No backend; the production throttle and sender rule.
    fn default() -> Auth {
        Auth {
            password_file: None,
            dovecot_socket: None,
            max_failures: 5,
            failure_window: Duration::from_secs(10 * 60),
            sender_must_match: true,
        }
    }
}

/// `[queue]`: when senders hear about slow or failed deliveries, how often a
/// deferred recipient is tried again, and how many deliveries run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queue {
    /// Age of a message at which its sender gets a delayed-delivery DSN.
    pub warn_after: Duration,
    /// Age at which a still-deferred recipient fails and its sender gets a failure DSN.
    pub give_up_after: Duration,
    /// Delay before the first retry; it doubles with each failed attempt...
    pub retry_min: Duration,
    /// ...up to this. Never less than `retry_min`.
    pub retry_max: Duration,
    /// Deliveries running at once, over all destinations.
    pub delivery_concurrency: usize,
    /// Longest pause before a new message is taken (before `354`) while more new
    /// messages wait for their first delivery attempt than twice
    /// `delivery_concurrency`: arrivals slow to the delivery rate (Postfix's
    /// `in_flow_delay`). Zero: never pause.
    pub in_flow_delay: Duration,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    /// `None`: standard error (unless `syslog`).
    pub file: Option<PathBuf>,
    pub syslog: bool,
}

/// `log.format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// sendmail's `ID: key=value, ...` lines.
    #[default]
    Sendmail,
    /// One JSON object per line.
    Json,
}

/// `[limits]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes; advertised with SIZE, `552 5.3.4` above it.
    pub message_size: u64,
    /// Per message; `452 4.5.3` beyond.
    pub recipients: usize,
    /// Concurrent inbound sessions; `421 4.7.0` beyond.
    pub sessions: usize,
    /// New connections per client IP per minute; 0 means unlimited.
    pub connections_per_ip_per_minute: u32,
    /// Bad commands in one session before `421`.
    pub errors: u32,
    /// Bytes of a message's header section; `552 5.3.4` above it.
    pub header_size: u64,
    /// `Received:` header fields a message may carry; more is a loop: `554 5.4.6`.
    pub hops: usize,
}

/// `[timeouts]`: server-side SMTP timeouts (RFC 5321 §4.5.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Deadline for each command, from the previous reply to the end of the line.
    pub command: Duration,
    /// Longest silence inside a message.
    pub data_block: Duration,
    /// Deadline for a whole message, from DATA (or the first BDAT) to its end.
    pub data_end: Duration,
    pub tls_handshake: Duration,
    /// How long the server listens before its greeting; a client that talks first is
    /// refused (`554 5.5.0`). Zero still catches input already there at connect.
    pub greet_pause: Duration,
    /// Inside a message, each window of this length must bring at least
    /// `data_min_bytes_per_second` × its length; the first window is the grace period.
    pub data_rate_window: Duration,
    /// Minimum average rate over each window; 0 disables the check.
    pub data_min_bytes_per_second: u64,
}
