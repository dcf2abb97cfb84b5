//! `posthorn tls-memory list [--json] | forget [HOST-OR-IP]`: the hosts and IPs whose
//! STARTTLS failed and that deliveries therefore reach in plaintext for a while
//! (`outbound.tls_failure_memory`), and the inbound clients (`client:IP`) whose
//! handshake failed and that the server does not offer STARTTLS for a while
//! (`inbound.tls_failure_memory`). `forget IP` clears both directions. Works on
//! `<spool>/tls-memory` directly; a running daemon notices the change at its next
//! lookup.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use chrono::{DateTime, Local, SecondsFormat, Utc};
use posthorn_delivery::tls_memory::{Remembered, TlsMemory};
use serde_json::json;

use super::load_config;
use crate::cli::TlsMemoryAction;
use crate::exit;

pub fn run(config_path: Option<&Path>, action: TlsMemoryAction) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let memory = TlsMemory::in_spool(&config.spool);
    match action {
        TlsMemoryAction::List { json } => {
            let entries = memory.list(SystemTime::now());
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{}", json_list(&entries))?;
            } else {
                write!(out, "{}", table(&entries))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        TlsMemoryAction::Forget { key } => forget(&memory, key.as_deref()),
    }
}

fn forget(memory: &TlsMemory, key: Option<&str>) -> anyhow::Result<ExitCode> {
    match memory.forget(key) {
        Ok(removed) => {
            println!("{}", forgot_message(key, removed));
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!(
                "posthorn: cannot rewrite {}: {error}",
                memory.path().display()
            );
            Ok(ExitCode::from(exit::IO_ERROR))
        }
    }
}

fn forgot_message(key: Option<&str>, removed: usize) -> String {
    let entries = if removed == 1 { "entry" } else { "entries" };
    match (key, removed) {
        (Some(key), 0) => format!("{key}: not remembered; nothing removed"),
        (Some(key), _) => format!("{key}: forgotten ({removed} {entries} removed)"),
        (None, 0) => "nothing remembered; nothing removed".to_owned(),
        (None, _) => format!("forgot everything ({removed} {entries} removed)"),
    }
}

/// The human listing: destinations first, then inbound clients, each one line per
/// key with local times and the reason last (it may be long).
fn table(entries: &[Remembered]) -> String {
    if entries.is_empty() {
        return "No hosts or IPs with broken TLS are remembered.\n".to_owned();
    }
    let (inbound, outbound): (Vec<_>, Vec<_>) = entries
        .iter()
        .map(|entry| (entry.client(), entry))
        .partition(|(client, _)| client.is_some());
    let mut text = String::new();
    if !outbound.is_empty() {
        let rows: Vec<_> = outbound
            .iter()
            .map(|(_, entry)| (entry.key.as_str(), *entry))
            .collect();
        text.push_str(&rows_text("HOST/IP", &rows));
    }
    if !inbound.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str("Inbound: clients not offered STARTTLS until then\n");
        let rows: Vec<_> = inbound
            .iter()
            .map(|(client, entry)| (client.unwrap_or(&entry.key), *entry))
            .collect();
        text.push_str(&rows_text("CLIENT IP", &rows));
    }
    text
}

/// One table: a heading row, then one row per (shown key, entry), keys padded alike.
fn rows_text(heading: &str, rows: &[(&str, &Remembered)]) -> String {
    let width = rows
        .iter()
        .map(|(key, _)| key.len())
        .max()
        .unwrap_or(0)
        .max(heading.len());
    let mut text = format!(
        "{heading:<width$}  {:<19}  {:<19}  REASON\n",
        "UNTIL", "RECORDED"
    );
    for (key, entry) in rows {
        text.push_str(&format!(
            "{key:<width$}  {}  {}  {}\n",
            local(entry.until),
            local(entry.recorded),
            entry.reason
        ));
    }
    text
}

fn local(time: SystemTime) -> String {
    DateTime::<Local>::from(time)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn rfc3339(time: SystemTime) -> String {
    DateTime::<Utc>::from(time).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn json_list(entries: &[Remembered]) -> String {
    let array: Vec<_> = entries
        .iter()
        .map(|entry| {
            json!({
                "key": entry.key,
                "direction": if entry.client().is_some() { "inbound" } else { "outbound" },
                "until": rfc3339(entry.until),
                "recorded": rfc3339(entry.recorded),
                "reason": entry.reason,
            })
        })
        .collect();
    serde_json::Value::Array(array).to_string()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn entry(key: &str) -> Remembered {
        Remembered {
            key: key.to_owned(),
            until: UNIX_EPOCH + Duration::from_secs(1_700_086_400),
            recorded: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            reason: "handshake failed: unexpected EOF".to_owned(),
        }
    }

    #[test]
    fn json_has_utc_times_and_every_field() {
        let text = json_list(&[entry("mx.example.com")]);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!([{
                "key": "mx.example.com",
                "direction": "outbound",
                "until": "2023-11-15T22:13:20Z",
                "recorded": "2023-11-14T22:13:20Z",
                "reason": "handshake failed: unexpected EOF",
            }])
        );
        assert_eq!(json_list(&[]), "[]");
    }

    #[test]
    fn table_lines_up_and_says_when_empty() {
        let text = table(&[entry("mx.example.com"), entry("192.0.2.1")]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("HOST/IP         UNTIL"), "{text}");
        assert!(lines[2].starts_with("192.0.2.1       20"), "{text}");
        assert!(lines[1].ends_with("unexpected EOF"), "{text}");
        assert!(table(&[]).contains("No hosts or IPs"));
    }

    #[test]
    fn inbound_clients_are_listed_apart() {
        let text = table(&[entry("192.0.2.1"), entry("client:2001:db8::1")]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(lines[1].starts_with("192.0.2.1  "), "{text}");
        assert_eq!(lines[3], "Inbound: clients not offered STARTTLS until then");
        assert!(lines[4].starts_with("CLIENT IP    UNTIL"), "{text}");
        assert!(lines[5].starts_with("2001:db8::1  20"), "{text}");

        let only_inbound = table(&[entry("client:192.0.2.9")]);
        assert!(only_inbound.starts_with("Inbound: "), "{only_inbound}");

        let value: serde_json::Value =
            serde_json::from_str(&json_list(&[entry("client:192.0.2.9")])).unwrap();
        assert_eq!(value[0]["key"], "client:192.0.2.9");
        assert_eq!(value[0]["direction"], "inbound");
    }

    #[test]
    fn forget_messages_say_what_happened() {
        assert_eq!(
            forgot_message(Some("mx.example"), 0),
            "mx.example: not remembered; nothing removed"
        );
        assert_eq!(
            forgot_message(Some("mx.example"), 1),
            "mx.example: forgotten (1 entry removed)"
        );
        assert_eq!(
            forgot_message(None, 0),
            "nothing remembered; nothing removed"
        );
        assert_eq!(
            forgot_message(None, 3),
            "forgot everything (3 entries removed)"
        );
    }
}
