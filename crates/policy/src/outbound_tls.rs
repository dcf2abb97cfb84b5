//! Which TLS policy applies to one outbound connection, and why: a pure function of the
//! configured `outbound.starttls` mode, the access map and the destination.
//!
//! # Decision rules
//!
//! 1. The base is `config_mode` (`outbound.starttls`), source [`PolicySource::Config`].
//! 2. `Try_TLS:` is looked up for the peer in sendmail's order: the host name (the MX or
//!    mailertable host) and each parent domain, then the IP address and its prefixes
//!    (IPv6 as `IPv6:...`) when the address is known, and only then the bare default
//!    `Try_TLS:`. `NO` turns STARTTLS off, even over a `required` or `verified` config:
//!    a per-host exception is the administrator's explicit word about that host (the
//!    seeds: a peer whose STARTTLS is broken must get its mail). `YES` changes nothing.
//! 3. `TLS_Srv:` is looked up in the same order. `VERIFY` (or `VERIFY:bits`) means mode
//!    `verified`, `ENCR:bits` means `required` with at least that many cipher bits;
//!    `+CN:name` requires that name in the certificate, `+CN` alone the host name;
//!    `PERM+` makes an unmet requirement permanent (5.7.x) instead of 4.7.x.
//! 4. `TLS_Rcpt:` is looked up by recipient domain (the domain, its parents, then the
//!    default) with the same meaning. Both requirements are merged field by field, the
//!    stricter wins: verification if either asks for it, the larger bit count,
//!    permanent if either says `PERM+`. Only one `+CN` name can be required: `TLS_Srv`'s
//!    wins, as it is about the very server we connect to.
//! 5. The mode is the strictest of the config and the requirements, except that a
//!    `Try_TLS: NO` puts the config aside. Requirements beat `Try_TLS: NO`: mail must
//!    not go out in clear where the administrator required TLS, so the result is the
//!    requirement's mode and a [`PolicyNote`] says that `Try_TLS` was overridden.
//!
//! | `Try_TLS` | `TLS_Srv`/`TLS_Rcpt` | config              | mode            | source        |
//! |-----------|----------------------|---------------------|-----------------|---------------|
//! | none, YES | none                 | any                 | config          | config        |
//! | NO        | none                 | any                 | off             | `Try_TLS`     |
//! | any       | `ENCR:bits`          | off, opportunistic  | required        | the entry     |
//! | none, YES | `ENCR:bits`          | required            | required        | the entry     |
//! | none, YES | `ENCR:bits`          | verified            | verified        | config        |
//! | NO        | `ENCR:bits`          | any                 | required (note) | the entry     |
//! | any       | `VERIFY`             | any                 | verified        | the entry     |
//!
//! The source is the entry that decided the mode; on a tie between the config and an
//! entry, the entry (it carries the details, e.g. the bits), and between `TLS_Srv` and
//! `TLS_Rcpt`, `TLS_Srv`. A failed STARTTLS may fall back to plaintext only in
//! opportunistic mode without requirements ([`TlsPolicy::allows_plaintext`]); whether
//! it does is then `outbound.tls_failure`, the caller's business.
//!
//! This module does no I/O and no DNS: the caller passes the address it connects to.

mod check;
mod decide;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;

use crate::tag::Tag;

pub use check::{Negotiated, Unmet};
pub use decide::outbound_policy;

/// How STARTTLS is used towards a destination, from the weakest to the strictest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsMode {
    /// No STARTTLS at all (`starttls = "off"`, sendmail's `M=S`, or `Try_TLS: NO`).
    Off,
    /// STARTTLS when offered; a broken handshake may fall back to plaintext.
    Opportunistic,
    /// TLS or defer; the certificate is not checked.
    Required,
    /// TLS with a verified certificate, or defer.
    Verified,
}

impl TlsMode {
    /// The config spelling: `off`, `opportunistic`, `required`, `verified`.
    pub fn name(self) -> &'static str {
        match self {
            TlsMode::Off => "off",
            TlsMode::Opportunistic => "opportunistic",
            TlsMode::Required => "required",
            TlsMode::Verified => "verified",
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What `TLS_Srv:`/`TLS_Rcpt:` entries demand of the session, merged. The default (no
/// entry) demands nothing; the config's `verified` mode is in [`TlsPolicy::mode`], not
/// here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    /// The server certificate must verify.
    pub verify: bool,
    /// At least this many cipher bits.
    pub min_bits: Option<u32>,
    /// This name must be among the certificate's names (`+CN`).
    pub common_name: Option<String>,
    /// `PERM+`: an unmet requirement fails with 5.7.x instead of 4.7.x.
    pub permanent_failure: bool,
}

impl Requirements {
    /// Whether these requirements can only be met over TLS (any entry can: the grammar
    /// always has `VERIFY` or `ENCR:bits`).
    pub fn requires_tls(&self) -> bool {
        self.verify || self.min_bits.is_some()
    }
}

/// Where the mode came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// `outbound.starttls`.
    Config,
    /// An access-map entry: its tag, its key as stored (without the tag, empty for the
    /// tag's default) and its line.
    Access { tag: Tag, key: String, line: usize },
}

/// One tag's lookup, for `posthorn policy` and `posthorn probe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupStep {
    pub tag: Tag,
    /// The normalised keys in the order tried, without the tag ("" is its default).
    pub keys: Vec<String>,
    /// The full key that matched (the last of `tried()`), its line and its value as text.
    pub matched: Option<(String, usize, String)>,
}

impl LookupStep {
    /// Full keys in the order tried, e.g. `Try_TLS:mx.example.com`, ..., `Try_TLS:`.
    /// Formatted on demand: the daemon decides a policy per delivery and never shows it.
    pub fn tried(&self) -> Vec<String> {
        crate::map::full_keys(self.tag, &self.keys)
    }
}

/// Something about the decision that the administrator should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyNote {
    /// `Try_TLS: NO` at `line` was ignored because a `TLS_Srv`/`TLS_Rcpt` entry requires TLS.
    TryTlsOverridden {
        line: usize,
        by: Tag,
        by_line: usize,
    },
    /// `Try_TLS: NO` at `line` turned off TLS that the config (`required`/`verified`) asked for.
    ConfigOverridden { config: TlsMode, line: usize },
    /// A `+` extension (`+CS:`, `+CI:`, ...) that Posthorn parses but does not check.
    UnenforcedExtension {
        tag: Tag,
        line: usize,
        extension: String,
    },
}

impl fmt::Display for PolicyNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyNote::TryTlsOverridden { line, by, by_line } => write!(
                f,
                "Try_TLS NO (line {line}) is overridden: {by} (line {by_line}) requires TLS, \
                 and mail never goes out in clear where TLS is required"
            ),
            PolicyNote::ConfigOverridden { config, line } => write!(
                f,
                "Try_TLS NO (line {line}) overrides outbound.starttls = {config} for this host"
            ),
            PolicyNote::UnenforcedExtension {
                tag,
                line,
                extension,
            } => write!(
                f,
                "{tag} (line {line}): +{extension} is not checked by Posthorn"
            ),
        }
    }
}

/// The TLS policy for one outbound connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPolicy {
    pub mode: TlsMode,
    pub requirements: Requirements,
    pub source: PolicySource,
    /// `Try_TLS`, `TLS_Srv`, `TLS_Rcpt`, in that order (empty from [`TlsPolicy::from_config`]).
    pub trace: Vec<LookupStep>,
    pub notes: Vec<PolicyNote>,
}

impl TlsPolicy {
    /// The policy when no access map applies: the config's mode, nothing else.
    pub fn from_config(mode: TlsMode) -> TlsPolicy {
        TlsPolicy {
            mode,
            requirements: Requirements::default(),
            source: PolicySource::Config,
            trace: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// `policy=` of the log: "opportunistic", "off", "required", "verified" for the config;
    /// "try_tls:access:12", "tls_srv:access:3", "tls_rcpt:access:7" when the access map decided.
    pub fn label(&self) -> String {
        match &self.source {
            PolicySource::Config => self.mode.to_string(),
            PolicySource::Access { tag, line, .. } => {
                format!("{}:access:{line}", tag.name().to_ascii_lowercase())
            }
        }
    }

    /// Whether a failed STARTTLS may fall back to plaintext: only in Opportunistic mode with
    /// no TLS_Srv/TLS_Rcpt requirement (SPEC §4 lists the cases that never fall back).
    pub fn allows_plaintext(&self) -> bool {
        self.mode == TlsMode::Opportunistic && !self.requirements.requires_tls()
    }

    /// Whether STARTTLS is sent at all (false for Off, e.g. `Try_TLS:host NO` or starttls="off").
    pub fn sends_starttls(&self) -> bool {
        self.mode != TlsMode::Off
    }

    /// Whether delivery must defer rather than go on without TLS.
    pub fn requires_tls(&self) -> bool {
        self.mode >= TlsMode::Required || self.requirements.requires_tls()
    }
}

/// The peer of one outbound connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destination<'a> {
    /// The MX or mailertable host name (or an address literal such as `[192.0.2.1]`).
    pub host: &'a str,
    /// The address connected to, when known: its keys are tried after the host's.
    pub ip: Option<IpAddr>,
    /// The recipients' domain, for `TLS_Rcpt:`.
    pub recipient_domain: &'a str,
}

impl Destination<'_> {
    /// The address whose keys a lookup tries: `ip`, or the host when it is an address
    /// (`192.0.2.1`, `[192.0.2.1]`, `[IPv6:2001:db8::1]`).
    pub fn address(&self) -> Option<IpAddr> {
        self.ip.or_else(|| literal_ip(self.host))
    }
}

/// The address of a host written as an IP address or an address literal.
fn literal_ip(host: &str) -> Option<IpAddr> {
    let host = host.trim();
    let inner = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(host);
    let inner = crate::keys::strip_ipv6_prefix(inner).unwrap_or(inner);
    inner.parse().ok()
}

impl From<posthorn_config::StartTlsMode> for TlsMode {
    /// The mode `outbound.starttls` sets before the access map is consulted.
    fn from(mode: posthorn_config::StartTlsMode) -> Self {
        use posthorn_config::StartTlsMode;
        match mode {
            StartTlsMode::Off => TlsMode::Off,
            StartTlsMode::Opportunistic => TlsMode::Opportunistic,
            StartTlsMode::Required => TlsMode::Required,
            StartTlsMode::Verified => TlsMode::Verified,
        }
    }
}
