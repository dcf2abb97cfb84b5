//! Pure formatting: a [`Record`] to a sendmail-style or JSON line. No clock, no I/O.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde_json::Value as Json;
use tracing::Level;

use crate::record::{FieldValue, Record};

/// The `tracing` target of mail-log events.
pub const MAIL_TARGET: &str = "posthorn::mail";

/// The program name in log lines (`posthorn[PID]:`).
pub const PROGRAM: &str = "posthorn";

/// Keys whose values sendmail writes in double quotes (`error="reason"`).
const QUOTED_KEYS: [&str; 1] = ["error"];

/// What kind of event a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Target `posthorn::mail`: a line of the mail log.
    Mail,
    /// Anything else: a diagnostic, written with its level.
    Diagnostic(Level),
}

/// The part of a sendmail-format line after `posthorn[PID]: `.
///
/// Mail: `ID: message, key=value, key=value`. Diagnostic: `level: message key=value`.
/// Written into one buffer: two of these lines go out for every message relayed.
pub fn sendmail_body(kind: EventKind, record: &Record) -> String {
    let mut body = String::with_capacity(192);
    if let EventKind::Diagnostic(level) = kind {
        body.push_str(level_name(level));
        body.push_str(": ");
    }
    if let Some(qid) = &record.qid {
        body.push_str(qid);
        body.push_str(": ");
    }
    let separator = match kind {
        EventKind::Mail => ", ",
        EventKind::Diagnostic(_) => " ",
    };
    let mut first = true;
    let mut start_part = |body: &mut String| {
        if !first {
            body.push_str(separator);
        }
        first = false;
    };
    if let Some(message) = &record.message {
        start_part(&mut body);
        body.push_str(message);
    }
    for (key, value) in &record.fields {
        start_part(&mut body);
        body.push_str(key);
        body.push('=');
        push_sendmail_value(&mut body, key, value);
    }
    // A log line must stay one line whatever a peer put in a field.
    if body.contains(['\r', '\n']) {
        body = body.replace(['\r', '\n'], " ");
    }
    body
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// The sendmail-format header: `Nov 20 23:19:53 HOSTNAME posthorn[PID]: `.
pub fn sendmail_header(time: DateTime<FixedOffset>, hostname: &str, pid: u32) -> String {
    format!("{} {hostname} {PROGRAM}[{pid}]: ", syslog_timestamp(time))
}

/// RFC 3164 timestamp in the writer's local time: `Nov  5 09:01:02`.
pub fn syslog_timestamp(time: DateTime<FixedOffset>) -> String {
    time.format("%b %e %H:%M:%S").to_string()
}

fn push_sendmail_value(out: &mut String, key: &str, value: &FieldValue) {
    match value {
        FieldValue::Str(text) if QUOTED_KEYS.contains(&key) => {
            out.push('"');
            for character in text.chars() {
                if matches!(character, '\\' | '"') {
                    out.push('\\');
                }
                out.push(character);
            }
            out.push('"');
        }
        FieldValue::Str(text) => out.push_str(text),
        other => {
            // Writing to a String cannot fail.
            let _ = write!(out, "{other}");
        }
    }
}

/// One JSON object: `time`, `host`, then `level` (diagnostics only), `qid`,
/// `message`, and the fields in the order they were written.
pub fn json_line(
    kind: EventKind,
    record: &Record,
    time: DateTime<FixedOffset>,
    host: &str,
) -> String {
    let time = time
        .with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut members: Vec<(&str, Json)> =
        vec![("time", Json::from(time)), ("host", Json::from(host))];
    if let EventKind::Diagnostic(level) = kind {
        members.push(("level", Json::from(level.as_str().to_ascii_lowercase())));
    }
    if let Some(qid) = &record.qid {
        members.push(("qid", Json::from(qid.as_str())));
    }
    if let Some(message) = &record.message {
        members.push(("message", Json::from(message.as_str())));
    }
    members.extend(
        record
            .fields
            .iter()
            .map(|(key, value)| (*key, json_value(value))),
    );
    json_object(&members)
}

fn json_value(value: &FieldValue) -> Json {
    match value {
        FieldValue::Str(text) => Json::from(text.as_str()),
        FieldValue::I64(number) => Json::from(*number),
        FieldValue::U64(number) => Json::from(*number),
        // NaN and infinities have no JSON form; `from` turns them into null.
        FieldValue::F64(number) => Json::from(*number),
        FieldValue::Bool(flag) => Json::from(*flag),
    }
}

/// Written by hand because `serde_json::Map` sorts keys unless `preserve_order` is on,
/// and the field order is part of the log's contract.
fn json_object(members: &[(&str, Json)]) -> String {
    let mut out = String::from("{");
    for (index, (key, value)) in members.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(&Json::from(*key).to_string());
        out.push(':');
        out.push_str(&value.to_string());
    }
    out.push('}');
    out
}
