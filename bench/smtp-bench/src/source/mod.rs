//! `posthorn-bench source`: an SMTP load generator like Postfix's `smtp-source`, plus
//! STARTTLS, an open-loop `--rate` mode and per-message acceptance latency.

mod schedule;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Result};

use crate::body::MessageTemplate;
use crate::client::Opener;
use crate::stats::{Latency, Report};
use schedule::Schedule;
use session::SessionResult;

/// The validated `source` options.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    pub server: SocketAddr,
    pub messages: u64,
    pub sessions: u64,
    pub size: usize,
    pub per_connection: u64,
    pub starttls: bool,
    pub tls_resume: bool,
    pub noops: u32,
    pub rate: Option<f64>,
    pub from: String,
    pub to: String,
    pub helo: String,
}

/// The envelope commands, formatted once: MAIL, RCPT and DATA back to back, so a
/// pipelining session sends them in one write and a plain one sends a slice at a time.
#[derive(Debug)]
struct Envelope {
    bytes: Vec<u8>,
    mail_end: usize,
    rcpt_end: usize,
}

impl Envelope {
    fn new(from: &str, to: &str) -> Self {
        let mut bytes = format!("MAIL FROM:<{from}>\r\n").into_bytes();
        let mail_end = bytes.len();
        bytes.extend_from_slice(format!("RCPT TO:<{to}>\r\n").as_bytes());
        let rcpt_end = bytes.len();
        bytes.extend_from_slice(b"DATA\r\n");
        Envelope {
            bytes,
            mail_end,
            rcpt_end,
        }
    }
    fn all(&self) -> &[u8] {
        &self.bytes
    }
    fn mail(&self) -> &[u8] {
        &self.bytes[..self.mail_end]
    }
    fn rcpt(&self) -> &[u8] {
        &self.bytes[self.mail_end..self.rcpt_end]
    }
    fn data(&self) -> &[u8] {
        &self.bytes[self.rcpt_end..]
    }
}

/// What every session of a run shares (read-only, apart from the schedule's counter).
struct Shared {
    opener: Opener,
    template: MessageTemplate,
    envelope: Envelope,
    schedule: Schedule,
    per_connection: u64,
}

/// Runs the load and returns the report.
pub async fn run(options: SourceOptions) -> Result<Report> {
    ensure!(options.sessions > 0, "--sessions must be at least 1");
    ensure!(
        options.per_connection > 0,
        "--per-connection must be at least 1"
    );
    if let Some(rate) = options.rate {
        ensure!(rate > 0.0 && rate.is_finite(), "--rate must be positive");
    }
    let tls = match options.starttls {
        true => Some(crate::tls::client_connector(options.tls_resume)?),
        false => None,
    };
    let start = Instant::now();
    let shared = Arc::new(Shared {
        opener: Opener {
            noops: options.noops,
            ..Opener::new(options.server, &options.helo, tls)
        },
        template: MessageTemplate::new(options.size, &options.from, &options.to, &options.helo),
        envelope: Envelope::new(&options.from, &options.to),
        schedule: Schedule::new(options.messages, options.rate, start),
        per_connection: options.per_connection,
    });
    let sessions: Vec<_> = (0..options.sessions.min(options.messages.max(1)))
        .map(|_| tokio::spawn(session::run(Arc::clone(&shared))))
        .collect();
    let mut results = Vec::with_capacity(sessions.len());
    for handle in sessions {
        results.push(handle.await?);
    }
    Ok(report(
        results,
        start,
        shared.schedule.unclaimed(),
        options.rate.is_some(),
    ))
}

/// Merges the sessions' results. Messages never claimed because every session gave up
/// count as failed, so `sent + failed` is always `--messages`.
fn report(results: Vec<SessionResult>, start: Instant, unclaimed: u64, rated: bool) -> Report {
    let mut latencies = Vec::with_capacity(results.iter().map(|r| r.latencies.len()).sum());
    let (mut sent, mut failed, mut connect_errors) = (0, unclaimed, 0);
    let mut last_reply = start;
    let mut behind_max = std::time::Duration::ZERO;
    let mut first_error = None;
    for result in results {
        sent += result.sent;
        failed += result.failed;
        connect_errors += result.connect_errors;
        latencies.extend_from_slice(&result.latencies);
        last_reply = last_reply.max(result.last_reply.unwrap_or(start));
        behind_max = behind_max.max(result.behind_max);
        first_error = first_error.or(result.first_error);
    }
    if let Some(error) = first_error {
        eprintln!("posthorn-bench source: {connect_errors} connection errors, first: {error}");
    }
    let elapsed_seconds = (last_reply - start).as_secs_f64();
    let messages_per_second = match elapsed_seconds > 0.0 {
        true => sent as f64 / elapsed_seconds,
        false => 0.0,
    };
    Report {
        sent,
        failed,
        connect_errors,
        elapsed_seconds,
        messages_per_second,
        latency_ms: Latency::from_samples(&mut latencies),
        behind_schedule_ms_max: rated.then_some(behind_max.as_secs_f64() * 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_slices_are_the_three_commands() {
        let envelope = Envelope::new("a@b.test", "c@d.test");
        assert_eq!(envelope.mail(), b"MAIL FROM:<a@b.test>\r\n");
        assert_eq!(envelope.rcpt(), b"RCPT TO:<c@d.test>\r\n");
        assert_eq!(envelope.data(), b"DATA\r\n");
        assert_eq!(
            envelope.all(),
            b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n"
        );
    }
}
