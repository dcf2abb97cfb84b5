//! RFC 5321 §4.1.2 address grammar: `Mailbox`, `Reverse-path`, `Forward-path`.

use std::fmt;
use std::net::IpAddr;

/// The right-hand side of a mailbox: a host name or an address literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Domain {
    /// A dot-separated host name (A-label or, with SMTPUTF8, U-label), stored as written.
    Name(String),
    /// `[192.0.2.1]` or `[IPv6:2001:db8::1]`.
    Literal(IpAddr),
}

/// `Local-part "@" ( Domain / address-literal )`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// The local part as it must be written on the wire (quoted form kept when needed).
    pub local_part: String,
    pub domain: Domain,
}

/// `MAIL FROM:<...>`: either the null path `<>` or a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath {
    Null,
    Mailbox(Mailbox),
}

/// `RCPT TO:<...>`: a mailbox, or the special `<Postmaster>` without a domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    Postmaster,
    Mailbox(Mailbox),
}

impl Domain {
    /// The domain as used for routing and map lookups: lower-cased name, or the IP.
    pub fn lookup_key(&self) -> String {
        match self {
            Domain::Name(name) => name.to_ascii_lowercase(),
            Domain::Literal(ip) => ip.to_string(),
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Name(name) => f.write_str(name),
            Domain::Literal(IpAddr::V4(ip)) => write!(f, "[{ip}]"),
            Domain::Literal(IpAddr::V6(ip)) => write!(f, "[IPv6:{ip}]"),
        }
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local_part, self.domain)
    }
}

impl fmt::Display for ReversePath {
    /// Without angle brackets; the null path displays as the empty string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => Ok(()),
            ReversePath::Mailbox(mailbox) => mailbox.fmt(f),
        }
    }
}

impl fmt::Display for ForwardPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("Postmaster"),
            ForwardPath::Mailbox(mailbox) => mailbox.fmt(f),
        }
    }
}
