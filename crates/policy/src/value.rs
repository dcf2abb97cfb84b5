//! The right-hand side of an access-map line, parsed according to its tag.

use std::fmt;

use posthorn_proto::{EnhancedStatus, Reply};
use thiserror::Error;

use crate::tag::Tag;
use crate::tls_requirement::{RequirementError, TlsRequirement};

/// A parsed access-map value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `Connect:`, `From:`, `To:`.
    Action(Action),
    /// `Try_TLS:` — `false` for `NO`.
    TryTls(bool),
    /// `TLS_Srv:`, `TLS_Rcpt:`, `TLS_Clt:`.
    TlsRequirement(TlsRequirement),
    /// `Srv_Features:`.
    SrvFeatures(SrvFeatures),
    /// `Spam:`, `GreetPause:`, `ClientRate:`, `ClientConn:` — kept as written, unused yet.
    Text(String),
}

/// What a `Connect:`, `From:` or `To:` entry tells us to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Accept, skipping other checks that would reject; does not allow relaying.
    Ok,
    /// Accept and allow relaying (client or recipient domain).
    Relay,
    /// `550 5.7.1 ... Access denied`.
    Reject,
    /// Accept, then drop the message.
    Discard,
    /// Stop the search here and act as if nothing matched (no parent, no default).
    Skip,
    /// Reject with this reply.
    Error(Reply),
}

/// Why a value is wrong for its tag.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    #[error("missing value")]
    Missing,
    #[error("`{value}` is not a valid {tag}: value; expected one of {expected}")]
    Unknown {
        tag: Tag,
        value: String,
        expected: &'static str,
    },
    #[error("bad ERROR value `{value}`: {reason}")]
    ErrorReply { value: String, reason: &'static str },
    #[error("bad {tag}: value `{value}`: {reason}")]
    Requirement {
        tag: Tag,
        value: String,
        reason: RequirementError,
    },
    #[error("bad Srv_Features: letter {0:?}; sendmail's letters are {SRV_FEATURE_LETTERS}")]
    FeatureLetter(char),
}

const ACTIONS: &str = "OK, RELAY, REJECT, DISCARD, SKIP, ERROR:\"550 5.7.1 text\"";

/// sendmail's `srv_features` letters: lower case turns a feature on, upper case off
/// (AUTH, VERB, security layer for plaintext AUTH, DSN, ETRN, require AUTH,
/// PIPELINING, STARTTLS, client certificate request, EXPN); `t` fails temporarily.
pub const SRV_FEATURE_LETTERS: &str = "AaBbCcDdEeLlPpSsVvXxt";

impl Value {
    /// Parses `text` (already trimmed) as the value of a `tag` entry.
    pub fn parse(tag: Tag, text: &str) -> Result<Value, ValueError> {
        if text.is_empty() {
            return Err(ValueError::Missing);
        }
        match tag {
            Tag::Connect | Tag::From | Tag::To => parse_action(tag, text).map(Value::Action),
            Tag::TryTls => match text.to_ascii_uppercase().as_str() {
                "NO" => Ok(Value::TryTls(false)),
                "YES" => Ok(Value::TryTls(true)),
                _ => Err(unknown(tag, text, "NO, YES")),
            },
            Tag::TlsSrv | Tag::TlsRcpt | Tag::TlsClt => TlsRequirement::parse(text)
                .map(Value::TlsRequirement)
                .map_err(|reason| ValueError::Requirement {
                    tag,
                    value: text.to_owned(),
                    reason,
                }),
            Tag::SrvFeatures => SrvFeatures::parse(text).map(Value::SrvFeatures),
            Tag::Spam | Tag::GreetPause | Tag::ClientRate | Tag::ClientConn => {
                Ok(Value::Text(text.to_owned()))
            }
        }
    }
}

fn unknown(tag: Tag, text: &str, expected: &'static str) -> ValueError {
    ValueError::Unknown {
        tag,
        value: text.to_owned(),
        expected,
    }
}

fn parse_action(tag: Tag, text: &str) -> Result<Action, ValueError> {
    if let Some(rest) = strip_prefix_ignore_case(text, "ERROR:") {
        return parse_error_reply(rest)
            .map(Action::Error)
            .map_err(|reason| ValueError::ErrorReply {
                value: text.to_owned(),
                reason,
            });
    }
    match text.to_ascii_uppercase().as_str() {
        "OK" => Ok(Action::Ok),
        "RELAY" => Ok(Action::Relay),
        "REJECT" => Ok(Action::Reject),
        "DISCARD" => Ok(Action::Discard),
        "SKIP" => Ok(Action::Skip),
        _ => Err(unknown(tag, text, ACTIONS)),
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// The part after `ERROR:`, in sendmail's three spellings:
/// `"550 5.7.1 text"` (quotes optional) and the older `5.7.1:550 text`.
fn parse_error_reply(rest: &str) -> Result<Reply, &'static str> {
    let (older_status, rest) = match rest.split_once(':') {
        Some((status, tail)) if looks_like_status(status) => (Some(status), tail),
        _ => (None, rest),
    };
    let unquoted = unquote(rest.trim());
    let (code_text, text) = unquoted.split_once(' ').unwrap_or((unquoted, ""));
    let code: u16 = code_text
        .parse()
        .map_err(|_| "expected a reply code such as 550")?;
    if !(400..600).contains(&code) {
        return Err("the reply code must be 4xx or 5xx");
    }
    let (status, text) = match older_status {
        Some(status) => (Some(parse_status(status)?), text.trim()),
        None => split_leading_status(text.trim())?,
    };
    let class = u8::try_from(code / 100).map_err(|_| "bad reply code")?;
    let status = status.unwrap_or(EnhancedStatus::new(class, 0, 0));
    if status.class != class {
        return Err("the enhanced status class must match the reply code (4.x.x with 4xx)");
    }
    let text = if text.is_empty() {
        "Access denied"
    } else {
        text
    };
    Ok(Reply::new(code, status, text.to_owned()))
}

fn unquote(text: &str) -> &str {
    text.strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(text)
}

fn looks_like_status(text: &str) -> bool {
    text.split('.').count() == 3 && text.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// `5.7.1 text` -> (Some(5.7.1), "text"); `text` -> (None, "text").
fn split_leading_status(text: &str) -> Result<(Option<EnhancedStatus>, &str), &'static str> {
    let (first, tail) = text.split_once(' ').unwrap_or((text, ""));
    if looks_like_status(first) {
        Ok((Some(parse_status(first)?), tail.trim()))
    } else {
        Ok((None, text))
    }
}

fn parse_status(text: &str) -> Result<EnhancedStatus, &'static str> {
    const BAD: &str = "bad enhanced status code (expected e.g. 5.7.1)";
    let mut parts = text.split('.');
    let class: u8 = parts.next().and_then(|p| p.parse().ok()).ok_or(BAD)?;
    let subject: u16 = parts.next().and_then(|p| p.parse().ok()).ok_or(BAD)?;
    let detail: u16 = parts.next().and_then(|p| p.parse().ok()).ok_or(BAD)?;
    if !(class == 4 || class == 5) || subject > 999 || detail > 999 {
        return Err(BAD);
    }
    Ok(EnhancedStatus::new(class, subject, detail))
}

/// A `Srv_Features:` value: sendmail letters, each turning one feature on or off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvFeatures {
    letters: String,
}

impl SrvFeatures {
    /// Parses letters, optionally separated by spaces, against [`SRV_FEATURE_LETTERS`].
    pub fn parse(text: &str) -> Result<SrvFeatures, ValueError> {
        let letters: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if let Some(bad) = letters.chars().find(|c| !SRV_FEATURE_LETTERS.contains(*c)) {
            return Err(ValueError::FeatureLetter(bad));
        }
        Ok(SrvFeatures { letters })
    }

    /// The letters as given, without spaces.
    pub fn letters(&self) -> &str {
        &self.letters
    }

    /// Whether the feature named by `letter` (either case) is turned on (`Some(true)`),
    /// off (`Some(false)`), or not mentioned. The last mention wins.
    pub fn setting(&self, letter: char) -> Option<bool> {
        self.letters
            .chars()
            .rev()
            .find(|c| c.eq_ignore_ascii_case(&letter))
            .map(|c| c.is_ascii_lowercase())
    }

    /// `t`: sendmail fails the connection temporarily.
    pub fn temporary_failure(&self) -> bool {
        self.letters.contains('t')
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Ok => f.write_str("OK"),
            Action::Relay => f.write_str("RELAY"),
            Action::Reject => f.write_str("REJECT"),
            Action::Discard => f.write_str("DISCARD"),
            Action::Skip => f.write_str("SKIP"),
            Action::Error(reply) => write!(f, "ERROR:\"{reply}\""),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Action(action) => action.fmt(f),
            Value::TryTls(true) => f.write_str("YES"),
            Value::TryTls(false) => f.write_str("NO"),
            Value::TlsRequirement(requirement) => requirement.fmt(f),
            Value::SrvFeatures(features) => f.write_str(features.letters()),
            Value::Text(text) => f.write_str(text),
        }
    }
}
