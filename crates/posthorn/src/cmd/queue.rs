//! `posthorn queue list|show|flush|delete|hold|release`: the queue, read straight from
//! the spool, so it works whether or not the daemon runs; only `flush` needs the
//! daemon (it asks it, through the control socket, to deliver now).

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use chrono::{DateTime, Local, Utc};
use posthorn_server::control::{self, ControlRequest};
use posthorn_spool::{QueueId, QueuedMessage, RecipientStatus, Spool};
use serde_json::json;

use super::load_config;
use crate::cli::QueueAction;

pub fn run(config_path: Option<&Path>, action: QueueAction) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let spool =
        Spool::open(&config.spool).with_context(|| format!("spool {}", config.spool.display()))?;
    match action {
        QueueAction::List { json } => list(&spool, json)?,
        QueueAction::Show { id } => show(&spool, &parse_id(&id)?)?,
        QueueAction::Flush { id } => flush(&spool, id.as_deref())?,
        QueueAction::Delete { id } => {
            spool.delete(&parse_id(&id)?)?;
            println!("{id}: deleted");
        }
        QueueAction::Hold { id } => {
            spool.hold(&parse_id(&id)?)?;
            println!("{id}: held");
        }
        QueueAction::Release { id } => {
            let queue_id = parse_id(&id)?;
            spool.release(&queue_id)?;
            println!("{id}: released");
            // A running daemon stopped scheduling the held message: hand it back. When
            // no daemon runs, its next start picks the message up anyway.
            let _ = control::request(spool.path(), &ControlRequest::Flush(Some(queue_id)));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_id(id: &str) -> anyhow::Result<QueueId> {
    id.parse()
        .map_err(|_| anyhow::anyhow!("{id:?} is not a queue id"))
}

/// Asks the daemon to run the queue, or one message, now. A message that is not
/// queued exits 66; no daemon exits 75 (`ControlError::NotRunning`): nothing can be
/// delivered until it runs, and then it delivers the queue by itself.
fn flush(spool: &Spool, id: Option<&str>) -> anyhow::Result<()> {
    let id = id.map(parse_id).transpose()?;
    if let Some(id) = &id {
        spool.load(id)?;
    }
    control::request(spool.path(), &ControlRequest::Flush(id.clone()))?;
    match id {
        Some(id) => println!("{id}: delivery requested"),
        None => println!("queue run requested"),
    }
    Ok(())
}

fn list(spool: &Spool, as_json: bool) -> anyhow::Result<()> {
    let messages = spool.list()?;
    let mut out = std::io::stdout().lock();
    if as_json {
        let entries: Vec<_> = messages.iter().map(message_json).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&entries)?)?;
        return Ok(());
    }
    if messages.is_empty() {
        writeln!(out, "Mail queue is empty")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<15} {:>8} {:<20} Sender/Recipient",
        "Queue ID", "Size", "Arrival"
    )?;
    for message in &messages {
        let arrival: DateTime<Local> = message.envelope.received_at.into();
        let held = if message.held { "!" } else { " " };
        writeln!(
            out,
            "{:<14}{held} {:>8} {:<20} <{}>",
            message.id,
            message.size,
            arrival.format("%a %b %e %H:%M:%S"),
            message.envelope.sender
        )?;
        for recipient in &message.envelope.recipients {
            let state = &recipient.state;
            let mut detail = format!("{}, {} attempts", status_name(state.status), state.attempts);
            if let Some(reply) = &state.last_reply {
                detail.push_str(&format!(", last: {reply}"));
            }
            writeln!(out, "{:46}<{}> ({detail})", "", recipient.address)?;
        }
    }
    writeln!(out, "-- {} messages", messages.len())?;
    Ok(())
}

fn show(spool: &Spool, id: &QueueId) -> anyhow::Result<()> {
    let message = spool.load(id)?;
    let mut out = std::io::stdout().lock();
    let envelope = &message.envelope;
    writeln!(out, "*** ENVELOPE RECORDS {id} ***")?;
    writeln!(out, "arrival: {}", rfc3339(envelope.received_at))?;
    writeln!(out, "size: {}", message.size)?;
    writeln!(out, "held: {}", message.held)?;
    writeln!(out, "sender: <{}>", envelope.sender)?;
    writeln!(
        out,
        "client: {} helo={} proto={}",
        envelope
            .client
            .address
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "local".into()),
        envelope.client.helo,
        envelope.client.protocol
    )?;
    for recipient in &envelope.recipients {
        writeln!(
            out,
            "recipient: <{}> {} attempts={}",
            recipient.address,
            status_name(recipient.state.status),
            recipient.state.attempts
        )?;
    }
    writeln!(out, "*** MESSAGE CONTENTS {id} ***")?;
    let mut body = spool.body(id)?;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let count = body.read(&mut buffer).context("reading the message")?;
        if count == 0 {
            break;
        }
        out.write_all(&buffer[..count])?;
    }
    out.flush()?;
    Ok(())
}

fn message_json(message: &QueuedMessage) -> serde_json::Value {
    let envelope = &message.envelope;
    let recipients: Vec<_> = envelope
        .recipients
        .iter()
        .map(|recipient| {
            let state = &recipient.state;
            json!({
                "address": recipient.address.to_string(),
                "status": status_name(state.status),
                "attempts": state.attempts,
                "last_error": state.last_reply,
                "next_attempt": state.next_attempt.map(rfc3339),
            })
        })
        .collect();
    json!({
        "id": message.id.to_string(),
        "arrival": rfc3339(envelope.received_at),
        "size": message.size,
        "sender": envelope.sender.to_string(),
        "held": message.held,
        "recipients": recipients,
    })
}

fn status_name(status: RecipientStatus) -> &'static str {
    match status {
        RecipientStatus::Pending => "pending",
        RecipientStatus::Deferred => "deferred",
        RecipientStatus::Delivered => "delivered",
        RecipientStatus::Failed => "failed",
    }
}

fn rfc3339(time: SystemTime) -> String {
    DateTime::<Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
