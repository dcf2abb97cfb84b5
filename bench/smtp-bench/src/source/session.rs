//! One load-generating session: claims messages, keeps a connection open for up to
//! `--per-connection` of them, and records each message's acceptance latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Buf;
use tokio::io::AsyncWriteExt;

use super::Shared;
use crate::client::{within, Connection};
use crate::stats::Micros;

/// Consecutive connection failures after which a session gives up.
const MAX_CONSECUTIVE_ERRORS: u32 = 20;

/// What one session did.
#[derive(Debug, Default)]
pub struct SessionResult {
    pub sent: u64,
    pub failed: u64,
    pub connect_errors: u64,
    pub latencies: Vec<Micros>,
    pub last_reply: Option<Instant>,
    pub behind_max: Duration,
    pub first_error: Option<String>,
}

/// The outcome of one transaction on a working connection.
enum Outcome {
    Accepted { latency: Duration },
    Rejected,
}

/// Runs one session until the schedule is exhausted or the server keeps failing.
pub async fn run(shared: Arc<Shared>) -> SessionResult {
    let mut result = SessionResult::default();
    let mut session = Session {
        shared: &shared,
        connection: None,
        on_connection: 0,
        consecutive_errors: 0,
        header: Vec::with_capacity(512),
    };
    while let Some(claim) = shared.schedule.claim() {
        if let Some(due) = claim.due {
            let now = Instant::now();
            result.behind_max = result.behind_max.max(now.saturating_duration_since(due));
            tokio::time::sleep_until(due.into()).await;
        }
        if !session.send_with_retries(claim.index, &mut result).await {
            break;
        }
    }
    if let Some(connection) = session.connection.take() {
        connection.quit().await;
    }
    result
}

struct Session<'a> {
    shared: &'a Shared,
    connection: Option<Connection>,
    /// Messages sent on the current connection.
    on_connection: u64,
    consecutive_errors: u32,
    /// The per-message header block, reused.
    header: Vec<u8>,
}

impl Session<'_> {
    /// Sends message `index`, reconnecting after connection errors. Returns false when
    /// the session gives up (the message is then counted as failed).
    async fn send_with_retries(&mut self, index: u64, result: &mut SessionResult) -> bool {
        loop {
            match self.try_send(index).await {
                Ok(outcome) => {
                    self.consecutive_errors = 0;
                    result.last_reply = Some(Instant::now());
                    match outcome {
                        Outcome::Accepted { latency } => {
                            result.sent += 1;
                            let micros = latency.as_micros().min(u128::from(Micros::MAX));
                            result.latencies.push(micros as Micros);
                        }
                        Outcome::Rejected => result.failed += 1,
                    }
                    self.after_message().await;
                    return true;
                }
                Err(error) => {
                    self.connection = None;
                    result.connect_errors += 1;
                    result
                        .first_error
                        .get_or_insert_with(|| format!("{error:#}"));
                    self.consecutive_errors += 1;
                    if self.consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
                        result.failed += 1;
                        return false;
                    }
                    let backoff = Duration::from_millis(10 * u64::from(self.consecutive_errors));
                    tokio::time::sleep(backoff).await;
                }
            }
        }
    }

    /// Closes the connection once it has carried `--per-connection` messages.
    async fn after_message(&mut self) {
        self.on_connection += 1;
        if self.on_connection >= self.shared.per_connection {
            if let Some(connection) = self.connection.take() {
                connection.quit().await;
            }
        }
    }

    async fn try_send(&mut self, index: u64) -> anyhow::Result<Outcome> {
        if self.connection.is_none() {
            self.connection = Some(self.shared.opener.open().await?);
            self.on_connection = 0;
        }
        let shared = self.shared;
        shared.template.write_header(index, &mut self.header);
        let Some(connection) = self.connection.as_mut() else {
            anyhow::bail!("no connection");
        };
        let limit = shared.opener.timeout;
        within(limit, transaction(connection, shared, &self.header)).await
    }
}

/// MAIL, RCPT, DATA (in one write when pipelining), the message, and its reply.
async fn transaction(
    connection: &mut Connection,
    shared: &Shared,
    header: &[u8],
) -> anyhow::Result<Outcome> {
    let envelope = &shared.envelope;
    let (mail, rcpt, data) = if connection.pipelining {
        connection.command(envelope.all()).await?;
        (
            connection.reply().await?,
            connection.reply().await?,
            connection.reply().await?,
        )
    } else {
        connection.command(envelope.mail()).await?;
        let mail = connection.reply().await?;
        connection.command(envelope.rcpt()).await?;
        let rcpt = connection.reply().await?;
        connection.command(envelope.data()).await?;
        (mail, rcpt, connection.reply().await?)
    };
    check_closing([mail, rcpt, data])?;
    if data != 354 {
        reset(connection).await?;
        return Ok(Outcome::Rejected);
    }
    let mut message = header.chain(shared.template.body_and_end());
    connection.stream.write_all_buf(&mut message).await?;
    connection.stream.flush().await?;
    let written = Instant::now();
    let code = connection.reply().await?;
    let latency = written.elapsed();
    check_closing([code])?;
    if !(200..300).contains(&code) || !(200..300).contains(&mail) || !(200..300).contains(&rcpt) {
        reset(connection).await?;
        return Ok(Outcome::Rejected);
    }
    Ok(Outcome::Accepted { latency })
}

/// A 421 means the server is closing the connection: handled like a dropped connection.
fn check_closing<const N: usize>(codes: [u16; N]) -> anyhow::Result<()> {
    if codes.contains(&421) {
        anyhow::bail!("server answered 421 (closing)");
    }
    Ok(())
}

async fn reset(connection: &mut Connection) -> anyhow::Result<()> {
    connection.command(b"RSET\r\n").await?;
    let code = connection.reply().await?;
    check_closing([code])
}
