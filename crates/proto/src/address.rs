//! RFC 5321 §4.1.2 address grammar: `Mailbox`, `Reverse-path`, `Forward-path`.
//!
//! ```text
//! Reverse-path = Path / "<>"
//! Forward-path = Path / "<Postmaster>"           ; case-insensitive
//! Path         = "<" [ A-d-l ":" ] Mailbox ">"   ; the source route is parsed and dropped
//! Mailbox      = Local-part "@" ( Domain / address-literal )
//! Local-part   = Dot-string / Quoted-string
//! ```
//!
//! RFC 6531 (SMTPUTF8) adds UTF-8 to atext, qtextSMTP and sub-domains; callers say
//! whether it is in force. Limits are those of RFC 5321 §4.5.3.1: local part 64
//! octets, domain 255, path 256 including the angle brackets. General address
//! literals (`[tag:...]`) are refused: nothing can route to them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

const MAX_LOCAL_PART: usize = 64;
const MAX_DOMAIN: usize = 255;
const MAX_LABEL: usize = 63;
const MAX_PATH: usize = 256;

/// Why a path, mailbox or domain was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum AddressError {
    #[error("address must be enclosed in angle brackets")]
    MissingAngleBrackets,
    #[error("address has no closing angle bracket")]
    UnclosedPath,
    #[error("characters after the closing angle bracket")]
    TrailingCharacters,
    #[error("the null path <> is not allowed here")]
    NullPathNotAllowed,
    #[error("bad source route")]
    BadSourceRoute,
    #[error("missing @ between local part and domain")]
    MissingAt,
    #[error("bad local part")]
    BadLocalPart,
    #[error("bad domain")]
    BadDomain,
    #[error("bad or unsupported address literal")]
    BadAddressLiteral,
    #[error("local part longer than 64 octets")]
    LocalPartTooLong,
    #[error("domain longer than 255 octets")]
    DomainTooLong,
    #[error("path longer than 256 octets")]
    PathTooLong,
    #[error("non-ASCII address without SMTPUTF8")]
    NonAsciiWithoutSmtputf8,
    #[error("address is not valid UTF-8")]
    InvalidUtf8,
    #[error("control character in address")]
    ControlCharacter,
}

impl AddressError {
    /// One of the RFC 5321 §4.5.3.1 length limits was exceeded.
    pub fn is_too_long(&self) -> bool {
        matches!(
            self,
            AddressError::LocalPartTooLong
                | AddressError::DomainTooLong
                | AddressError::PathTooLong
        )
    }
}

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

impl Mailbox {
    /// True when neither the local part nor the domain needs SMTPUTF8.
    pub fn is_ascii(&self) -> bool {
        self.local_part.is_ascii()
            && match &self.domain {
                Domain::Name(name) => name.is_ascii(),
                Domain::Literal(_) => true,
            }
    }
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

/// Parses a complete `MAIL FROM` path: `<>`, `<mailbox>` or `<@route:mailbox>`.
pub fn parse_reverse_path(s: &[u8], smtputf8: bool) -> Result<ReversePath, AddressError> {
    let content = whole_path_content(s)?;
    if content.is_empty() {
        return Ok(ReversePath::Null);
    }
    parse_path_content(content, smtputf8).map(ReversePath::Mailbox)
}

/// Parses a complete `RCPT TO` path: `<Postmaster>`, `<mailbox>` or `<@route:mailbox>`.
pub fn parse_forward_path(s: &[u8], smtputf8: bool) -> Result<ForwardPath, AddressError> {
    let content = whole_path_content(s)?;
    if content.is_empty() {
        return Err(AddressError::NullPathNotAllowed);
    }
    if content.eq_ignore_ascii_case(b"postmaster") {
        return Ok(ForwardPath::Postmaster);
    }
    parse_path_content(content, smtputf8).map(ForwardPath::Mailbox)
}

/// Parses a `Domain` or an `address-literal` (`[192.0.2.1]`, `[IPv6:2001:db8::1]`).
pub fn parse_domain(s: &[u8], smtputf8: bool) -> Result<Domain, AddressError> {
    let text = checked_text(s, smtputf8)?;
    domain(text)
}

/// Splits `<...>rest` into the path (with its brackets) and what follows it.
///
/// A `>` inside a quoted local part does not end the path.
pub(crate) fn split_path(s: &[u8]) -> Result<(&[u8], &[u8]), AddressError> {
    if s.first() != Some(&b'<') {
        return Err(AddressError::MissingAngleBrackets);
    }
    let mut in_quotes = false;
    let mut escaped = false;
    for (index, &byte) in s.iter().enumerate().skip(1) {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if in_quotes => escaped = true,
            b'"' => in_quotes = !in_quotes,
            b'>' if !in_quotes => return Ok(s.split_at(index + 1)),
            _ => {}
        }
    }
    Err(AddressError::UnclosedPath)
}

/// The bytes between the angle brackets of a path that must fill all of `s`.
fn whole_path_content(s: &[u8]) -> Result<&[u8], AddressError> {
    let (path, rest) = split_path(s)?;
    if !rest.is_empty() {
        return Err(AddressError::TrailingCharacters);
    }
    Ok(&path[1..path.len() - 1])
}

/// `[ A-d-l ":" ] Mailbox`, the inside of a non-null path.
fn parse_path_content(content: &[u8], smtputf8: bool) -> Result<Mailbox, AddressError> {
    let text = checked_text(content, smtputf8)?;
    if text.len() + 2 > MAX_PATH {
        return Err(AddressError::PathTooLong);
    }
    let mailbox_text = skip_source_route(text)?;
    mailbox(mailbox_text)
}

/// Refuses control characters, invalid UTF-8, and non-ASCII unless SMTPUTF8 is on.
fn checked_text(s: &[u8], smtputf8: bool) -> Result<&str, AddressError> {
    if s.iter().any(|b| b.is_ascii_control()) {
        return Err(AddressError::ControlCharacter);
    }
    let text = std::str::from_utf8(s).map_err(|_| AddressError::InvalidUtf8)?;
    if text.chars().any(char::is_control) {
        return Err(AddressError::ControlCharacter);
    }
    if !smtputf8 && !text.is_ascii() {
        return Err(AddressError::NonAsciiWithoutSmtputf8);
    }
    Ok(text)
}

/// `A-d-l = At-domain *( "," At-domain )`, followed by ":"; returns what follows.
///
/// RFC 5321 §4.1.2: servers "SHOULD accept and ignore" source routes, so the
/// domains are only checked for syntax.
fn skip_source_route(text: &str) -> Result<&str, AddressError> {
    if !text.starts_with('@') {
        return Ok(text);
    }
    let mut rest = text;
    loop {
        let Some(after_at) = rest.strip_prefix('@') else {
            return Err(AddressError::BadSourceRoute);
        };
        let end = route_domain_end(after_at).ok_or(AddressError::BadSourceRoute)?;
        domain(&after_at[..end]).map_err(|_| AddressError::BadSourceRoute)?;
        let (separator, tail) = after_at[end..].split_at(1);
        rest = tail;
        if separator == ":" {
            return Ok(rest);
        }
    }
}

/// Where a source-route domain ends: at the first `,` or `:` (after a literal's `]`).
fn route_domain_end(s: &str) -> Option<usize> {
    let search_from = if s.starts_with('[') { s.find(']')? } else { 0 };
    s[search_from..]
        .find([',', ':'])
        .map(|offset| search_from + offset)
}

/// `Local-part "@" ( Domain / address-literal )`.
fn mailbox(text: &str) -> Result<Mailbox, AddressError> {
    let (local_raw, domain_text) = if text.starts_with('"') {
        let end = quoted_string_end(text).ok_or(AddressError::BadLocalPart)?;
        let (local, rest) = text.split_at(end);
        let domain_text = rest.strip_prefix('@').ok_or(AddressError::MissingAt)?;
        (local, domain_text)
    } else {
        text.split_once('@').ok_or(AddressError::MissingAt)?
    };
    if local_raw.len() > MAX_LOCAL_PART {
        return Err(AddressError::LocalPartTooLong);
    }
    let local_part = local_part(local_raw)?;
    Ok(Mailbox {
        local_part,
        domain: domain(domain_text)?,
    })
}

/// The index just past the closing quote of the quoted string that starts `text`.
fn quoted_string_end(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (index, c) in text.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(index + 1),
            _ => {}
        }
    }
    None
}

/// Dot-string or Quoted-string, returned in its wire form (see [`Mailbox::local_part`]).
fn local_part(raw: &str) -> Result<String, AddressError> {
    let Some(quoted) = raw.strip_prefix('"') else {
        return if is_dot_string(raw) {
            Ok(raw.to_owned())
        } else {
            Err(AddressError::BadLocalPart)
        };
    };
    let inner = quoted.strip_suffix('"').ok_or(AddressError::BadLocalPart)?;
    let value = unquote(inner)?;
    if is_dot_string(&value) {
        return Ok(value);
    }
    let mut wire = String::with_capacity(value.len() + 2);
    wire.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            wire.push('\\');
        }
        wire.push(c);
    }
    wire.push('"');
    Ok(wire)
}

/// `*QcontentSMTP` to its value: qtextSMTP kept, quoted-pairSMTP unescaped.
fn unquote(inner: &str) -> Result<String, AddressError> {
    let mut value = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(pair @ ' '..='~') => value.push(pair),
                _ => return Err(AddressError::BadLocalPart),
            },
            '"' => return Err(AddressError::BadLocalPart),
            ' '..='~' => value.push(c),
            _ if !c.is_ascii() => value.push(c),
            _ => return Err(AddressError::BadLocalPart),
        }
    }
    Ok(value)
}

/// `Atom *("." Atom)`; atext per RFC 5322 §3.2.3, plus UTF-8 per RFC 6531.
fn is_dot_string(s: &str) -> bool {
    s.split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// `Domain / address-literal` on already checked text.
fn domain(text: &str) -> Result<Domain, AddressError> {
    if let Some(literal) = text.strip_prefix('[') {
        let inner = literal
            .strip_suffix(']')
            .ok_or(AddressError::BadAddressLiteral)?;
        return address_literal(inner).map(Domain::Literal);
    }
    if text.len() > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong);
    }
    if text.split('.').all(is_sub_domain) {
        Ok(Domain::Name(text.to_owned()))
    } else {
        Err(AddressError::BadDomain)
    }
}

/// `sub-domain = Let-dig [Ldh-str]`, or a U-label (any non-ASCII is let through).
fn is_sub_domain(label: &str) -> bool {
    let is_label_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii();
    !label.is_empty()
        && label.len() <= MAX_LABEL
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(is_label_char)
}

/// `IPv4-address-literal / IPv6-address-literal`; the `IPv6:` tag is case-insensitive.
fn address_literal(inner: &str) -> Result<IpAddr, AddressError> {
    let ipv6 = inner
        .get(..5)
        .filter(|tag| tag.eq_ignore_ascii_case("IPv6:"))
        .map(|_| &inner[5..]);
    let parsed = match ipv6 {
        Some(address) => address.parse::<Ipv6Addr>().map(IpAddr::V6).ok(),
        None => inner.parse::<Ipv4Addr>().map(IpAddr::V4).ok(),
    };
    parsed.ok_or(AddressError::BadAddressLiteral)
}

#[cfg(test)]
mod tests;
