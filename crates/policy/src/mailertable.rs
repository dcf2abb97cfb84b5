//! sendmail's mailertable, read from its text form: where mail for a domain goes instead
//! of the domain's MX hosts.
//!
//! ```text
//! # domain            mailer:host
//! example.com         esmtp:mail.example.com        # MX lookup of mail.example.com
//! .example.com        esmtp:[relay.example.com]:2525 # subdomains only; no MX lookup
//! legacy.example      smtp:[192.0.2.10]
//! v6.example          relay:[IPv6:2001:db8::25]
//! gone.example        error:5.1.1:550 This domain is gone
//! spam.example        error:nohost
//! .                   relay:[smarthost.example.net] # sendmail's catch-all
//! ```
//!
//! A lookup for `a.b.example.com` tries `a.b.example.com`, `.b.example.com`,
//! `.example.com`, `.com`, then `.`, ignoring case: a `.domain` key matches the
//! domain's subdomains, never the domain itself. The SMTP mailers (`esmtp`, `smtp`,
//! `smtp8`, `dsmtp`, `relay`) all mean SMTP to the host; `error:` refuses the mail
//! with a reply. Other mailers (`local:`, `procmail:`, ...) are refused when the file
//! is read: Posthorn delivers over SMTP only. Every bad line is reported with its
//! file and line, not only the first.
//!
//! This module only parses and looks up; DNS and connections are routing's job.

use crate::line_errors::{each_line, LineError, LineErrors};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use posthorn_proto::EnhancedStatus;
use thiserror::Error;

/// A parsed mailertable. `Default` is the empty table (nothing matches).
#[derive(Debug, Clone, Default)]
pub struct Mailertable {
    path: Option<PathBuf>,
    entries: HashMap<String, MailerEntry>,
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailerEntry {
    /// Lower-case, without a trailing dot: `example.com`, `.example.com` or `.`.
    pub key: String,
    pub target: MailerTarget,
    /// 1-based line in the file.
    pub line: usize,
}

/// What a matching entry says to do with the mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailerTarget {
    /// Deliver over SMTP to this host (any of sendmail's SMTP mailers).
    Smtp { host: MailerHost },
    /// sendmail's `error:` mailer: refuse with this reply.
    Error {
        code: u16,
        status: EnhancedStatus,
        text: String,
    },
}

/// The host part of an SMTP mailer entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailerHost {
    /// `host` or `host:port`: deliver to the MX hosts of `host` (lower-case).
    Mx { host: String, port: Option<u16> },
    /// `[host]`, `[192.0.2.1]`, `[IPv6:2001:db8::1]`, optionally `:port`: no MX lookup.
    /// `host` is a lower-case name or the IP address's text (without `IPv6:`).
    Direct { host: String, port: Option<u16> },
}

/// Why a host (`[relay.example.com]:587`, `mx.example.com`, ...) was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("bad host `{value}`: {reason}")]
pub struct HostError {
    pub value: String,
    pub reason: &'static str,
}

impl FromStr for MailerHost {
    type Err = HostError;

    /// The host part of an SMTP mailer entry (also the form of `outbound.smarthost`).
    fn from_str(text: &str) -> Result<MailerHost, HostError> {
        parse_host(text).map_err(|reason| HostError {
            value: text.to_owned(),
            reason,
        })
    }
}

/// One bad line (or an unreadable file, with no line).
pub type MailertableError = LineError<MailertableErrorKind>;

/// What is wrong with a line.
#[derive(Debug, Error)]
pub enum MailertableErrorKind {
    #[error("cannot read the mailertable: {0}")]
    Read(#[source] std::io::Error),
    #[error("`{key}` has no value; expected `mailer:host`")]
    MissingValue { key: String },
    #[error("`{value}` is not `mailer:host`")]
    NotMailerHost { value: String },
    #[error("mailer `{mailer}:` is not supported: Posthorn delivers over SMTP only (esmtp, smtp, smtp8, dsmtp, relay, error)")]
    NotSmtp { mailer: String },
    #[error(transparent)]
    Host(HostError),
    #[error("bad error: value `{value}`: {reason}")]
    Error { value: String, reason: &'static str },
    #[error("duplicate key `{key}`; the first is at line {first_line}")]
    Duplicate { key: String, first_line: usize },
}

/// Every bad line; `Display` lists one per line as `file:line: message`.
pub type MailertableErrors = LineErrors<MailertableErrorKind>;

impl Mailertable {
    /// Parses the text form; `path` is used in errors and kept for [`Mailertable::path`].
    pub fn parse(text: &str, path: &Path) -> Result<Mailertable, MailertableErrors> {
        let mut table = Mailertable {
            path: Some(path.to_owned()),
            entries: HashMap::new(),
        };
        each_line(text, path, |line, number| match parse_line(line, number)? {
            Some(entry) => table.insert(entry),
            None => Ok(()),
        })?;
        Ok(table)
    }

    /// Reads and parses a mailertable file.
    pub fn load(path: &Path) -> Result<Mailertable, MailertableErrors> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            LineErrors(vec![MailertableError {
                path: path.to_owned(),
                line: None,
                kind: MailertableErrorKind::Read(error),
            }])
        })?;
        Mailertable::parse(&text, path)
    }

    /// The file this table came from; `None` for the empty default table.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for `domain` (any case, trailing dot allowed), in sendmail's order:
    /// the domain itself, then `.parent` keys from the nearest up, then `.`.
    pub fn lookup(&self, domain: &str) -> Option<&MailerEntry> {
        lookup_keys(domain)
            .iter()
            .find_map(|key| self.entries.get(key))
    }

    fn insert(&mut self, entry: MailerEntry) -> Result<(), MailertableErrorKind> {
        if let Some(first) = self.entries.get(&entry.key) {
            return Err(MailertableErrorKind::Duplicate {
                key: entry.key,
                first_line: first.line,
            });
        }
        self.entries.insert(entry.key.clone(), entry);
        Ok(())
    }
}

/// The keys a lookup for `domain` tries, in order:
/// `a.b.example.com`, `.b.example.com`, `.example.com`, `.com`, `.`.
pub fn lookup_keys(domain: &str) -> Vec<String> {
    let domain = normalize_key(domain);
    let mut keys = vec![domain.clone()];
    let mut rest = domain.as_str();
    while let Some((_, parent)) = rest.split_once('.') {
        if !parent.is_empty() {
            keys.push(format!(".{parent}"));
        }
        rest = parent;
    }
    if domain != "." {
        keys.push(".".to_owned());
    }
    keys
}

/// Lower-case, without a trailing dot (but `.` stays `.`).
fn normalize_key(key: &str) -> String {
    let lower = key.to_ascii_lowercase();
    match lower.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() => stripped.to_owned(),
        _ => lower,
    }
}

/// One line: `None` for blank lines and comments.
fn parse_line(line: &str, number: usize) -> Result<Option<MailerEntry>, MailertableErrorKind> {
    let content = strip_comment(line).trim();
    if content.is_empty() {
        return Ok(None);
    }
    let (key, value) = content
        .split_once(char::is_whitespace)
        .map_or((content, ""), |(key, value)| (key, value.trim()));
    if value.is_empty() {
        return Err(MailertableErrorKind::MissingValue {
            key: key.to_owned(),
        });
    }
    Ok(Some(MailerEntry {
        key: normalize_key(key),
        target: parse_target(value)?,
        line: number,
    }))
}

/// Drops a `#` comment: at the start of the line, or after whitespace outside quotes
/// (so `error:550 "see #5"` keeps its text), as the access map does.
fn strip_comment(line: &str) -> &str {
    let mut in_quotes = false;
    let mut previous_is_space = true;
    for (index, c) in line.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            '#' if !in_quotes && previous_is_space => return &line[..index],
            _ => {}
        }
        previous_is_space = c.is_whitespace();
    }
    line
}

/// `mailer:rest` -> a target.
fn parse_target(value: &str) -> Result<MailerTarget, MailertableErrorKind> {
    let Some((mailer, rest)) = value.split_once(':') else {
        return Err(MailertableErrorKind::NotMailerHost {
            value: value.to_owned(),
        });
    };
    match mailer.to_ascii_lowercase().as_str() {
        "esmtp" | "smtp" | "smtp8" | "dsmtp" | "relay" => Ok(MailerTarget::Smtp {
            host: rest.parse().map_err(MailertableErrorKind::Host)?,
        }),
        "error" => error_mailer::parse(rest).map_err(|reason| MailertableErrorKind::Error {
            value: rest.to_owned(),
            reason,
        }),
        _ if mailer.is_empty() || mailer.contains(char::is_whitespace) => {
            Err(MailertableErrorKind::NotMailerHost {
                value: value.to_owned(),
            })
        }
        _ => Err(MailertableErrorKind::NotSmtp {
            mailer: mailer.to_owned(),
        }),
    }
}

/// `host`, `host:port`, `[host]`, `[host]:port`, `[192.0.2.1]`, `[IPv6:2001:db8::1]`.
fn parse_host(text: &str) -> Result<MailerHost, &'static str> {
    if text.is_empty() {
        return Err("missing host");
    }
    if let Some(inner_and_rest) = text.strip_prefix('[') {
        let (inner, after) = inner_and_rest
            .split_once(']')
            .ok_or("`[` without a closing `]`")?;
        let port = match after {
            "" => None,
            _ => Some(parse_port(
                after
                    .strip_prefix(':')
                    .ok_or("expected `:port` or nothing after `]`")?,
            )?),
        };
        let host = bracketed_host(inner)?;
        return Ok(MailerHost::Direct { host, port });
    }
    if let Ok(ip) = text.parse::<Ipv6Addr>() {
        return Ok(MailerHost::Direct {
            host: ip.to_string(),
            port: None,
        });
    }
    let (name, port) = match text.split_once(':') {
        Some((name, port)) => (name, Some(parse_port(port)?)),
        None => (text, None),
    };
    let host = host_name(name)?;
    if host.parse::<IpAddr>().is_ok() {
        return Ok(MailerHost::Direct { host, port });
    }
    Ok(MailerHost::Mx { host, port })
}

/// The inside of `[...]`: an IPv4 address, `IPv6:` and an IPv6 address, or a name.
fn bracketed_host(inner: &str) -> Result<String, &'static str> {
    let ipv6 = inner
        .get(..5)
        .filter(|prefix| prefix.eq_ignore_ascii_case("IPv6:"))
        .map(|_| &inner[5..]);
    if let Some(address) = ipv6 {
        let ip: Ipv6Addr = address.parse().map_err(|_| "bad IPv6 address")?;
        return Ok(ip.to_string());
    }
    host_name(inner)
}

fn host_name(name: &str) -> Result<String, &'static str> {
    let host = normalize_key(name);
    let valid_chars = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if host.is_empty() || host == "." || host.starts_with('.') || !valid_chars {
        return Err("expected a host name or an address (sendmail's colon-separated host lists are not supported)");
    }
    Ok(host)
}

fn parse_port(text: &str) -> Result<u16, &'static str> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err("expected a port number 1-65535 after `:` (sendmail's colon-separated host lists are not supported)"),
    }
}

mod error_mailer;

#[cfg(test)]
mod tests;
