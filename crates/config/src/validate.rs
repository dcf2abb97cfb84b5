//! Stage two: turn a [`RawConfig`] into a [`Config`], filling in production defaults
//! and rejecting values that parse as TOML but mean nothing (with their position).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use toml::Spanned;

use crate::error::{ConfigError, ConfigErrorKind, Position};
use crate::names::check_host_name;
use crate::raw::{
    RawAuth, RawConfig, RawLimits, RawListener, RawLog, RawOutbound, RawQueue, RawSize,
    RawTimeouts, RawTls,
};
use crate::types::*;
use crate::units::{parse_duration, parse_size};

const DEFAULT_SPOOL: &str = "/var/spool/posthorn";
const DEFAULT_LISTENER: &str = "0.0.0.0:25";
const DEFAULT_RELAY_NETWORKS: [&str; 2] = ["127.0.0.0/8", "::1/128"];
const DEFAULT_DNS_PORT: u16 = 53;

/// Where the text came from, for error messages.
pub(crate) struct Builder<'a> {
    pub text: &'a str,
    pub file: &'a str,
}

impl Builder<'_> {
    pub fn error(&self, span: Range<usize>, kind: ConfigErrorKind) -> ConfigError {
        ConfigError {
            file: self.file.to_owned(),
            position: Some(Position::of_offset(self.text, span.start)),
            kind,
        }
    }

    fn error_at<T>(&self, value: &Spanned<T>, kind: ConfigErrorKind) -> ConfigError {
        self.error(value.span(), kind)
    }

    /// Builds everything except `source` and `hostname`, which the caller decides.
    pub fn build(&self, raw: RawConfig, hostname: String) -> Result<Config, ConfigError> {
        Ok(Config {
            source: None,
            hostname,
            spool: PathBuf::from(raw.spool.unwrap_or_else(|| DEFAULT_SPOOL.to_owned())),
            listeners: self.listeners(raw.listener)?,
            tls: tls(raw.tls),
            inbound: Inbound {
                tls_failure_memory: self.duration(
                    "inbound.tls_failure_memory",
                    raw.inbound.tls_failure_memory,
                    "1d",
                )?,
            },
            outbound: self.outbound(raw.outbound)?,
            dns: Dns {
                nameservers: self.nameservers(&raw.dns.nameservers)?,
            },
            relay: self.relay(raw.relay.networks, raw.relay.domains)?,
            maps: Maps {
                access: optional_path(raw.maps.access),
                mailertable: optional_path(raw.maps.mailertable),
            },
            auth: self.auth(raw.auth)?,
            queue: self.queue(raw.queue)?,
            log: self.log(raw.log)?,
            limits: self.limits(raw.limits)?,
            timeouts: self.timeouts(raw.timeouts)?,
        })
    }

    fn auth(&self, raw: RawAuth) -> Result<Auth, ConfigError> {
        let defaults = Auth::default();
        let password_file = raw.password_file.map(Spanned::into_inner);
        let password_file = optional_path(password_file);
        let dovecot_socket = match raw.dovecot_socket {
            Some(socket) if password_file.is_some() && !socket.get_ref().trim().is_empty() => {
                return Err(self.error_at(&socket, ConfigErrorKind::AuthBackendConflict))
            }
            socket => optional_path(socket.map(Spanned::into_inner)),
        };
        Ok(Auth {
            password_file,
            dovecot_socket,
            max_failures: raw
                .max_failures
                .map_or(defaults.max_failures, Spanned::into_inner),
            failure_window: self.positive_duration(
                "auth.failure_window",
                raw.failure_window,
                "10m",
            )?,
            sender_must_match: raw.sender_must_match.unwrap_or(defaults.sender_must_match),
        })
    }

    fn log(&self, raw: RawLog) -> Result<LogSettings, ConfigError> {
        let file = optional_path(raw.file);
        let syslog = match raw.syslog {
            Some(syslog) if *syslog.get_ref() && file.is_some() => {
                return Err(self.error_at(&syslog, ConfigErrorKind::LogDestinationConflict))
            }
            Some(syslog) => *syslog.get_ref(),
            None => false,
        };
        Ok(LogSettings {
            format: raw.format.unwrap_or_default(),
            file,
            syslog,
        })
    }

    /// The configured host name, checked; `None` when the file does not set one.
    pub fn hostname(&self, raw: &RawConfig) -> Result<Option<String>, ConfigError> {
        let Some(hostname) = &raw.hostname else {
            return Ok(None);
        };
        let text = hostname.get_ref().trim();
        check_host_name(text).map_err(|reason| {
            let kind = ConfigErrorKind::Hostname {
                text: text.to_owned(),
                reason,
            };
            self.error_at(hostname, kind)
        })?;
        Ok(Some(text.to_owned()))
    }

    fn listeners(&self, raw: Option<Vec<RawListener>>) -> Result<Vec<Listener>, ConfigError> {
        let Some(raw) = raw else {
            let address = DEFAULT_LISTENER
                .parse()
                .map_err(|_| ConfigErrorKind::ListenerAddress(DEFAULT_LISTENER.to_owned()));
            return match address {
                Ok(address) => Ok(vec![Listener {
                    address,
                    kind: ListenerKind::Mta,
                }]),
                Err(kind) => Err(self.error(0..0, kind)),
            };
        };
        let mut first_lines: HashMap<SocketAddr, usize> = HashMap::new();
        let mut listeners = Vec::with_capacity(raw.len());
        for listener in raw {
            let text = listener.address.get_ref().trim();
            let address: SocketAddr = text.parse().map_err(|_| {
                self.error_at(
                    &listener.address,
                    ConfigErrorKind::ListenerAddress(text.to_owned()),
                )
            })?;
            let line = Position::of_offset(self.text, listener.address.span().start).line;
            if let Some(&first_line) = first_lines.get(&address) {
                let kind = ConfigErrorKind::DuplicateListener {
                    address,
                    first_line,
                };
                return Err(self.error_at(&listener.address, kind));
            }
            first_lines.insert(address, line);
            listeners.push(Listener {
                address,
                kind: listener.kind,
            });
        }
        Ok(listeners)
    }

    fn outbound(&self, raw: RawOutbound) -> Result<Outbound, ConfigError> {
        let port = match raw.port {
            Some(port) if *port.get_ref() == 0 => {
                return Err(self.error_at(
                    &port,
                    ConfigErrorKind::Zero {
                        key: "outbound.port",
                    },
                ))
            }
            Some(port) => *port.get_ref(),
            None => 25,
        };
        Ok(Outbound {
            starttls: raw.starttls.unwrap_or_default(),
            tls_failure: raw.tls_failure.unwrap_or_default(),
            port,
            smarthost: raw
                .smarthost
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            destination_concurrency: self.count(
                "outbound.destination_concurrency",
                raw.destination_concurrency,
                20,
            )?,
            connect_timeout: self.positive_duration(
                "outbound.connect_timeout",
                raw.connect_timeout,
                "30s",
            )?,
            messages_per_connection: self.count(
                "outbound.messages_per_connection",
                raw.messages_per_connection,
                100,
            )?,
            tls_failure_memory: self.duration(
                "outbound.tls_failure_memory",
                raw.tls_failure_memory,
                "1d",
            )?,
            plaintext_retry: raw.plaintext_retry.unwrap_or_default(),
            reply_timeout: raw
                .reply_timeout
                .map(|text| self.positive_duration("outbound.reply_timeout", Some(text), "5m"))
                .transpose()?,
        })
    }

    fn queue(&self, raw: RawQueue) -> Result<Queue, ConfigError> {
        let retry_max_span = raw.retry_max.as_ref().map(|max| max.span());
        let retry_min_span = raw.retry_min.as_ref().map(|min| min.span());
        let retry_min = self.positive_duration("queue.retry_min", raw.retry_min, "5m")?;
        let retry_max = self.duration("queue.retry_max", raw.retry_max, "1h")?;
        if retry_min > retry_max {
            // Point at whichever of the two the file set; retry_max when both are.
            let span = retry_max_span.or(retry_min_span).unwrap_or(0..0);
            let kind = ConfigErrorKind::DurationOrder {
                smaller: "queue.retry_min",
                smaller_value: retry_min,
                larger: "queue.retry_max",
                larger_value: retry_max,
            };
            return Err(self.error(span, kind));
        }
        Ok(Queue {
            warn_after: self.duration("queue.warn_after", raw.warn_after, "4h")?,
            give_up_after: self.duration("queue.give_up_after", raw.give_up_after, "5d")?,
            retry_min,
            retry_max,
            delivery_concurrency: self.count(
                "queue.delivery_concurrency",
                raw.delivery_concurrency,
                100,
            )?,
            in_flow_delay: self.duration("queue.in_flow_delay", raw.in_flow_delay, "1s")?,
        })
    }

    fn nameservers(&self, raw: &[Spanned<String>]) -> Result<Vec<SocketAddr>, ConfigError> {
        raw.iter()
            .map(|server| {
                let text = server.get_ref().trim();
                parse_nameserver(text).ok_or_else(|| {
                    self.error_at(server, ConfigErrorKind::Nameserver(text.to_owned()))
                })
            })
            .collect()
    }

    fn relay(
        &self,
        networks: Option<Vec<Spanned<String>>>,
        domains: Vec<Spanned<String>>,
    ) -> Result<Relay, ConfigError> {
        let networks = match networks {
            Some(networks) => networks
                .iter()
                .map(|network| {
                    parse_network(network.get_ref().trim()).map_err(|reason| {
                        let text = network.get_ref().clone();
                        self.error_at(network, ConfigErrorKind::Network { text, reason })
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => default_relay_networks(),
        };
        let domains = domains
            .iter()
            .map(|domain| {
                let text = domain.get_ref().trim().to_ascii_lowercase();
                match check_host_name(&text) {
                    Ok(()) => Ok(text),
                    Err(reason) => {
                        Err(self.error_at(domain, ConfigErrorKind::RelayDomain { text, reason }))
                    }
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Relay { networks, domains })
    }

    fn limits(&self, raw: RawLimits) -> Result<Limits, ConfigError> {
        Ok(Limits {
            message_size: self.size("limits.message_size", raw.message_size, 50_000_000)?,
            recipients: self.count("limits.recipients", raw.recipients, 1000)?,
            sessions: self.count("limits.sessions", raw.sessions, 1000)?,
            connections_per_ip_per_minute: raw
                .connections_per_ip_per_minute
                .map_or(600, |n| *n.get_ref()),
            errors: match raw.errors {
                Some(errors) => self.at_least_one("limits.errors", &errors, *errors.get_ref())?,
                None => 20,
            },
            header_size: self.size("limits.header_size", raw.header_size, 1_000_000)?,
            // RFC 5321 §6.3: a hop limit, if any, should be at least 100.
            hops: self.count("limits.hops", raw.hops, 100)?,
        })
    }

    /// A size in bytes, at least one: a plain integer or text with a unit (`"50MB"`).
    fn size(
        &self,
        key: &'static str,
        raw: Option<Spanned<RawSize>>,
        default: u64,
    ) -> Result<u64, ConfigError> {
        let Some(size) = raw else {
            return Ok(default);
        };
        let bytes = match size.get_ref() {
            RawSize::Bytes(bytes) => Ok(*bytes),
            RawSize::Text(text) => parse_size(text),
        };
        let bytes =
            bytes.map_err(|error| self.error_at(&size, ConfigErrorKind::Size { key, error }))?;
        self.at_least_one(key, &size, bytes)
    }

    fn count(
        &self,
        key: &'static str,
        raw: Option<Spanned<u64>>,
        default: usize,
    ) -> Result<usize, ConfigError> {
        let Some(value) = raw else {
            return Ok(default);
        };
        let count = self.at_least_one(key, &value, *value.get_ref())?;
        // Counts beyond the address space are unlimited in practice.
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    fn at_least_one<T, N: PartialEq + From<u8>>(
        &self,
        key: &'static str,
        spanned: &Spanned<T>,
        value: N,
    ) -> Result<N, ConfigError> {
        if value == N::from(0) {
            return Err(self.error_at(spanned, ConfigErrorKind::Zero { key }));
        }
        Ok(value)
    }

    fn timeouts(&self, raw: RawTimeouts) -> Result<Timeouts, ConfigError> {
        Ok(Timeouts {
            command: self.duration("timeouts.command", raw.command, "5m")?,
            data_block: self.duration("timeouts.data_block", raw.data_block, "3m")?,
            data_end: self.duration("timeouts.data_end", raw.data_end, "10m")?,
            tls_handshake: self.duration("timeouts.tls_handshake", raw.tls_handshake, "1m")?,
            greet_pause: self.duration("timeouts.greet_pause", raw.greet_pause, "0s")?,
            data_rate_window: self.positive_duration(
                "timeouts.data_rate_window",
                raw.data_rate_window,
                "30s",
            )?,
            // Postfix's smtpd_min_data_rate.
            data_min_bytes_per_second: raw.data_min_bytes_per_second.unwrap_or(500),
        })
    }

    /// A duration where zero would mean a busy loop or an instant failure.
    fn positive_duration(
        &self,
        key: &'static str,
        raw: Option<Spanned<String>>,
        default: &str,
    ) -> Result<Duration, ConfigError> {
        let span = raw.as_ref().map_or(0..0, |text| text.span());
        let duration = self.duration(key, raw, default)?;
        if duration.is_zero() {
            return Err(self.error(span, ConfigErrorKind::ZeroDuration { key }));
        }
        Ok(duration)
    }

    fn duration(
        &self,
        key: &'static str,
        raw: Option<Spanned<String>>,
        default: &str,
    ) -> Result<Duration, ConfigError> {
        match raw {
            Some(text) => parse_duration(text.get_ref())
                .map_err(|error| self.error_at(&text, ConfigErrorKind::Duration { key, error })),
            None => parse_duration(default)
                .map_err(|error| self.error(0..0, ConfigErrorKind::Duration { key, error })),
        }
    }
}

fn tls(raw: RawTls) -> TlsSettings {
    TlsSettings {
        certificate: optional_path(raw.certificate),
        private_key: optional_path(raw.private_key),
        client_certificate: optional_path(raw.client_certificate),
        client_private_key: optional_path(raw.client_private_key),
        ca_bundle: optional_path(raw.ca_bundle),
    }
}

/// An empty string in the file means "not set", as in the SPEC's examples.
fn optional_path(raw: Option<String>) -> Option<PathBuf> {
    raw.filter(|text| !text.trim().is_empty())
        .map(PathBuf::from)
}

/// `"10.0.0.0/8"`, or a bare address meaning that one host.
fn parse_network(text: &str) -> Result<IpNet, String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    text.parse::<IpNet>().map_err(|error| error.to_string())
}

fn default_relay_networks() -> Vec<IpNet> {
    DEFAULT_RELAY_NETWORKS
        .iter()
        .filter_map(|text| text.parse().ok())
        .collect()
}

/// `"127.0.0.1:5300"`, `"[::1]:53"`, or a bare IP meaning port 53.
fn parse_nameserver(text: &str) -> Option<SocketAddr> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Some(address);
    }
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, DEFAULT_DNS_PORT))
}
