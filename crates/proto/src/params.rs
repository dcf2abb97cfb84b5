//! ESMTP parameters of `MAIL` and `RCPT` (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531
//! SMTPUTF8, RFC 3461 DSN: RET, ENVID, NOTIFY, ORCPT, RFC 4954 AUTH).
//!
//! ```text
//! esmtp-param   = esmtp-keyword ["=" esmtp-value]
//! esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")   ; case-insensitive
//! esmtp-value   = 1*(%d33-60 / %d62-126 / UTF8-non-ascii)
//! ```
//!
//! Parsing here is grammar only: whether an extension was advertised, and whether
//! SIZE is over the limit, is for the session to decide.

use thiserror::Error;

use crate::xtext;

/// RFC 3461 §4.4: the ENVID value is at most 100 characters.
const MAX_ENVID: usize = 100;
/// RFC 3461 §4.2: the ORCPT value is at most 500 characters.
const MAX_ORCPT: usize = 500;
/// Enough digits for any u64; longer values are refused before parsing.
const MAX_SIZE_DIGITS: usize = 20;

/// Why the parameters of a `MAIL` or `RCPT` command were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParamError {
    /// Not `keyword[=value]` at all.
    #[error("malformed ESMTP parameter")]
    Syntax,
    /// A well-formed keyword that this command does not know (kept upper-cased).
    #[error("unknown parameter {0}")]
    Unknown(String),
    #[error("bad value for parameter {0}")]
    BadValue(&'static str),
    #[error("parameter {0} given twice")]
    Duplicate(&'static str),
}

/// `BODY=` (RFC 6152, RFC 3030).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BodyType {
    #[default]
    SevenBit,
    EightBitMime,
    BinaryMime,
}

/// `RET=` (RFC 3461 §4.3): how much of the message a DSN carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    Full,
    Headers,
}

/// `NOTIFY=` (RFC 3461 §4.1): `NEVER`, or any of `SUCCESS`, `FAILURE`, `DELAY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Notify {
    pub never: bool,
    pub success: bool,
    pub failure: bool,
    pub delay: bool,
}

/// `ORCPT=addr-type;xtext` (RFC 3461 §4.2), stored decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OriginalRecipient {
    /// Usually `rfc822`.
    pub addr_type: String,
    /// The xtext-decoded address.
    pub address: String,
}

/// Parameters accepted on `MAIL FROM`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MailParams {
    pub size: Option<u64>,
    pub body: Option<BodyType>,
    pub smtputf8: bool,
    pub ret: Option<Ret>,
    /// xtext-decoded `ENVID`.
    pub envid: Option<String>,
    /// `AUTH=` (RFC 4954 §5), xtext-decoded; `<>` is kept as is.
    pub auth: Option<String>,
}

/// Parameters accepted on `RCPT TO`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RcptParams {
    pub notify: Option<Notify>,
    pub orcpt: Option<OriginalRecipient>,
}

/// One `keyword[=value]` before interpretation.
struct RawParam<'a> {
    keyword: &'a str,
    value: Option<&'a str>,
}

impl MailParams {
    /// Parses the space-separated parameters that follow the path of `MAIL FROM`.
    pub fn parse(s: &[u8]) -> Result<Self, ParamError> {
        let mut params = MailParams::default();
        for raw in esmtp_params(s) {
            params.apply(raw?)?;
        }
        Ok(params)
    }

    fn apply(&mut self, raw: RawParam<'_>) -> Result<(), ParamError> {
        let keyword = raw.keyword.to_ascii_uppercase();
        match keyword.as_str() {
            "SIZE" => set_once(&mut self.size, "SIZE", size(raw.value)?),
            "BODY" => set_once(&mut self.body, "BODY", body(raw.value)?),
            "RET" => set_once(&mut self.ret, "RET", ret(raw.value)?),
            "ENVID" => set_once(&mut self.envid, "ENVID", envid(raw.value)?),
            "AUTH" => set_once(&mut self.auth, "AUTH", xtext_value("AUTH", raw.value)?),
            "SMTPUTF8" if raw.value.is_some() => Err(ParamError::BadValue("SMTPUTF8")),
            "SMTPUTF8" if self.smtputf8 => Err(ParamError::Duplicate("SMTPUTF8")),
            "SMTPUTF8" => {
                self.smtputf8 = true;
                Ok(())
            }
            _ => Err(ParamError::Unknown(keyword)),
        }
    }
}

impl RcptParams {
    /// Parses the space-separated parameters that follow the path of `RCPT TO`.
    pub fn parse(s: &[u8]) -> Result<Self, ParamError> {
        let mut params = RcptParams::default();
        for raw in esmtp_params(s) {
            let raw = raw?;
            let keyword = raw.keyword.to_ascii_uppercase();
            match keyword.as_str() {
                "NOTIFY" => set_once(&mut params.notify, "NOTIFY", notify(raw.value)?)?,
                "ORCPT" => set_once(&mut params.orcpt, "ORCPT", orcpt(raw.value)?)?,
                _ => return Err(ParamError::Unknown(keyword)),
            }
        }
        Ok(params)
    }
}

/// Splits on spaces (runs of them are tolerated) and checks each parameter's syntax.
fn esmtp_params(s: &[u8]) -> impl Iterator<Item = Result<RawParam<'_>, ParamError>> {
    s.split(|&b| b == b' ')
        .filter(|token| !token.is_empty())
        .map(raw_param)
}

fn raw_param(token: &[u8]) -> Result<RawParam<'_>, ParamError> {
    let text = std::str::from_utf8(token).map_err(|_| ParamError::Syntax)?;
    let (keyword, value) = match text.split_once('=') {
        Some((keyword, value)) => (keyword, Some(value)),
        None => (text, None),
    };
    let keyword_ok = keyword.starts_with(|c: char| c.is_ascii_alphanumeric())
        && keyword
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    let value_ok = value.is_none_or(|value| {
        !value.is_empty()
            && value
                .chars()
                .all(|c| (c.is_ascii_graphic() && c != '=') || !(c.is_ascii() || c.is_control()))
    });
    if keyword_ok && value_ok {
        Ok(RawParam { keyword, value })
    } else {
        Err(ParamError::Syntax)
    }
}

fn set_once<T>(slot: &mut Option<T>, keyword: &'static str, value: T) -> Result<(), ParamError> {
    if slot.is_some() {
        return Err(ParamError::Duplicate(keyword));
    }
    *slot = Some(value);
    Ok(())
}

/// RFC 1870: `SIZE=1*20DIGIT`.
fn size(value: Option<&str>) -> Result<u64, ParamError> {
    value
        .filter(|digits| digits.len() <= MAX_SIZE_DIGITS)
        .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
        .ok_or(ParamError::BadValue("SIZE"))
}

fn body(value: Option<&str>) -> Result<BodyType, ParamError> {
    match value.map(str::to_ascii_uppercase).as_deref() {
        Some("7BIT") => Ok(BodyType::SevenBit),
        Some("8BITMIME") => Ok(BodyType::EightBitMime),
        Some("BINARYMIME") => Ok(BodyType::BinaryMime),
        _ => Err(ParamError::BadValue("BODY")),
    }
}

fn ret(value: Option<&str>) -> Result<Ret, ParamError> {
    match value.map(str::to_ascii_uppercase).as_deref() {
        Some("FULL") => Ok(Ret::Full),
        Some("HDRS") => Ok(Ret::Headers),
        _ => Err(ParamError::BadValue("RET")),
    }
}

fn envid(value: Option<&str>) -> Result<String, ParamError> {
    match value {
        Some(encoded) if encoded.len() > MAX_ENVID => Err(ParamError::BadValue("ENVID")),
        _ => xtext_value("ENVID", value),
    }
}

fn xtext_value(keyword: &'static str, value: Option<&str>) -> Result<String, ParamError> {
    let encoded = value.ok_or(ParamError::BadValue(keyword))?;
    xtext::decode(encoded.as_bytes()).map_err(|_| ParamError::BadValue(keyword))
}

/// RFC 3461 §4.1: `NEVER`, or a comma list of `SUCCESS`, `FAILURE`, `DELAY`.
fn notify(value: Option<&str>) -> Result<Notify, ParamError> {
    let list = value.ok_or(ParamError::BadValue("NOTIFY"))?;
    let mut notify = Notify::default();
    for item in list.split(',') {
        let flag = match item.to_ascii_uppercase().as_str() {
            "NEVER" => &mut notify.never,
            "SUCCESS" => &mut notify.success,
            "FAILURE" => &mut notify.failure,
            "DELAY" => &mut notify.delay,
            _ => return Err(ParamError::BadValue("NOTIFY")),
        };
        *flag = true;
    }
    let any_other = notify.success || notify.failure || notify.delay;
    if notify.never && any_other {
        return Err(ParamError::BadValue("NOTIFY"));
    }
    Ok(notify)
}

/// RFC 3461 §4.2: `ORCPT=addr-type ";" xtext`, where addr-type is an RFC 822 atom.
fn orcpt(value: Option<&str>) -> Result<OriginalRecipient, ParamError> {
    let bad = || ParamError::BadValue("ORCPT");
    let value = value.filter(|v| v.len() <= MAX_ORCPT).ok_or_else(bad)?;
    let (addr_type, encoded) = value.split_once(';').ok_or_else(bad)?;
    let atom_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    if addr_type.is_empty() || !addr_type.chars().all(atom_char) {
        return Err(bad());
    }
    let address = xtext::decode(encoded.as_bytes()).map_err(|_| bad())?;
    if address.is_empty() {
        return Err(bad());
    }
    Ok(OriginalRecipient {
        addr_type: addr_type.to_owned(),
        address,
    })
}

#[cfg(test)]
mod tests;
