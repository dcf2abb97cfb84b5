//! sendmail's `error:` mailer in a mailertable: the reply that refuses the mail.
//!
//! sendmail writes it as `error:5.1.1:550 text`, `error:550 5.1.1 text`,
//! `error:550 text`, or with a sysexits.h name instead of a code (`error:nohost`,
//! `error:nouser text`), which stands for sendmail's reply and status for that exit.

use posthorn_proto::EnhancedStatus;

use super::MailerTarget;

/// sendmail's error mailer: `5.1.1:550 text`, `550 5.1.1 text`, `550 text`, or a
/// sysexits name (`nouser`, `nohost`, ...) with optional text; the whole value or the
/// text may be in double quotes, as in the access map's `ERROR:"550 5.7.1 text"`.
pub(super) fn parse(rest: &str) -> Result<MailerTarget, &'static str> {
    let rest = unquote(rest.trim());
    let (head, text) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(head, text)| (head, unquote(text.trim())));
    let (code, status, default_text) = match sysexit(head) {
        Some(known) => known,
        None => code_and_status(head, text)?,
    };
    let text = match text.split_once(' ') {
        Some((first, tail)) if parse_status(first).is_ok() => tail.trim(),
        _ if parse_status(text).is_ok() => "",
        _ => text,
    };
    let text = if text.is_empty() { default_text } else { text };
    Ok(MailerTarget::Error {
        code,
        status,
        text: text.to_owned(),
    })
}

/// `5.1.1:550` or `550` (status then from the text, or `5.0.0`), checked for agreement.
fn code_and_status(
    head: &str,
    text: &str,
) -> Result<(u16, EnhancedStatus, &'static str), &'static str> {
    let (status, code_text) = match head.split_once(':') {
        Some((status, code)) => (Some(parse_status(status)?), code),
        None => (None, head),
    };
    let code: u16 = code_text.parse().map_err(|_| {
        "expected a reply code such as 550, `5.1.1:550` or a sysexits name such as nouser or nohost"
    })?;
    if !(400..600).contains(&code) {
        return Err("the reply code must be 4xx or 5xx");
    }
    let class = if code >= 500 { 5 } else { 4 };
    let leading = text.split_whitespace().next().map(parse_status);
    let status = match (status, leading) {
        (Some(status), _) | (None, Some(Ok(status))) => status,
        (None, _) => EnhancedStatus::new(class, 0, 0),
    };
    if status.class != class {
        return Err("the enhanced status class must match the reply code (4.x.x with 4xx)");
    }
    Ok((code, status, "Service unavailable"))
}

/// sendmail's `error:` host names from sysexits.h, with sendmail's reply and status.
fn sysexit(name: &str) -> Option<(u16, EnhancedStatus, &'static str)> {
    let s = EnhancedStatus::new;
    let known = match name.to_ascii_lowercase().as_str() {
        "usage" => (500, s(5, 5, 4), "Bad usage"),
        "dataerr" => (501, s(5, 5, 2), "Data format error"),
        "noinput" => (550, s(5, 3, 0), "Cannot open input"),
        "nouser" => (550, s(5, 1, 1), "User unknown"),
        "nohost" => (550, s(5, 1, 2), "Host unknown"),
        "unavailable" => (554, s(5, 5, 0), "Service unavailable"),
        "software" => (554, s(5, 5, 0), "Internal error"),
        "oserr" => (451, s(4, 5, 0), "Operating system error"),
        "osfile" => (554, s(5, 5, 0), "System file missing"),
        "cantcreat" => (550, s(5, 3, 0), "Can't create output"),
        "ioerr" => (451, s(4, 5, 0), "I/O error"),
        "tempfail" => (450, s(4, 2, 0), "Deferred"),
        "protocol" => (554, s(5, 5, 0), "Remote protocol error"),
        "noperm" => (550, s(5, 3, 0), "Insufficient permission"),
        "config" => (554, s(5, 5, 0), "Local configuration error"),
        _ => return None,
    };
    Some(known)
}

fn parse_status(text: &str) -> Result<EnhancedStatus, &'static str> {
    const BAD: &str = "bad enhanced status code (expected e.g. 5.1.1)";
    let mut parts = text.split('.');
    let class: u8 = parts.next().and_then(|p| p.parse().ok()).ok_or(BAD)?;
    let subject: u16 = parts.next().and_then(|p| p.parse().ok()).ok_or(BAD)?;
    let detail: u16 = parts.next().and_then(|p| p.parse().ok()).ok_or(BAD)?;
    if parts.next().is_some() || !(class == 4 || class == 5) || subject > 999 || detail > 999 {
        return Err(BAD);
    }
    Ok(EnhancedStatus::new(class, subject, detail))
}

fn unquote(text: &str) -> &str {
    text.strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(text)
}
