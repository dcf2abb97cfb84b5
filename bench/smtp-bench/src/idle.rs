//! `posthorn-bench idle`: opens many SMTP connections (a fraction of them upgraded with
//! STARTTLS), then holds them open without a word, so a script can measure the
//! daemon's memory per idle session.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{ensure, Context as _, Result};
use rustix::process::{getrlimit, setrlimit, Resource};
use tokio::io::AsyncReadExt;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Semaphore;

use crate::client::Opener;
use crate::stream::Stream;

/// Connections being opened at once: enough to be quick, few enough not to look like
/// a flood to the server's accept queue and handshake workers.
const OPENING_AT_ONCE: usize = 200;

/// The validated `idle` options.
#[derive(Debug)]
pub struct IdleOptions {
    pub server: SocketAddr,
    pub connections: usize,
    pub tls_fraction: f64,
    pub helo: String,
}

/// Opens, reports, holds until stdin closes or SIGTERM/SIGINT.
pub async fn run(options: IdleOptions) -> Result<()> {
    ensure!(
        (0.0..=1.0).contains(&options.tls_fraction),
        "--tls-fraction must be between 0 and 1"
    );
    raise_descriptor_limit();
    let plain = Arc::new(Opener::new(options.server, &options.helo, None));
    let tls = Arc::new(Opener::new(
        options.server,
        &options.helo,
        Some(crate::tls::client_connector(false)?),
    ));
    let permits = Arc::new(Semaphore::new(OPENING_AT_ONCE));
    let tasks: Vec<_> = (0..options.connections)
        .map(|index| {
            let uses_tls = is_tls(index, options.tls_fraction);
            let opener = Arc::clone(if uses_tls { &tls } else { &plain });
            let permits = Arc::clone(&permits);
            tokio::spawn(async move {
                let _permit = permits.acquire().await?;
                opener.open().await.map(|connection| (connection, uses_tls))
            })
        })
        .collect();
    // Only the streams are kept: the reply buffers are not needed any more.
    let mut held: Vec<Stream> = Vec::with_capacity(options.connections);
    let (mut tls_open, mut failed, mut first_error) = (0, 0, None);
    for task in tasks {
        match task.await.context("opening task")? {
            Ok((connection, uses_tls)) => {
                tls_open += usize::from(uses_tls);
                held.push(connection.stream);
            }
            Err(error) => {
                failed += 1;
                first_error.get_or_insert_with(|| format!("{error:#}"));
            }
        }
    }
    if let Some(error) = first_error {
        crate::print_flushed(&format!("failed {failed} {error}"));
    }
    crate::print_flushed(&format!("ready {} {tls_open}", held.len()));
    wait_for_release().await?;
    drop(held);
    Ok(())
}

/// Spreads the TLS connections evenly: connection `i` is TLS when the running total
/// `floor((i + 1) * fraction)` steps up at `i`.
fn is_tls(index: usize, fraction: f64) -> bool {
    let before = (index as f64 * fraction).floor();
    let after = ((index + 1) as f64 * fraction).floor();
    after > before
}

/// Lifts the soft descriptor limit to the hard one; 10,000 connections need it. A
/// failure is reported and the run goes on: the limit may already be high enough.
fn raise_descriptor_limit() {
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    if let Err(error) = setrlimit(Resource::Nofile, limit) {
        eprintln!("posthorn-bench idle: raising RLIMIT_NOFILE: {error}");
    }
}

/// Returns when stdin reaches end of file or SIGTERM/SIGINT arrives.
async fn wait_for_release() -> Result<()> {
    let mut terminate = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let stdin_closed = async {
        let mut stdin = tokio::io::stdin();
        let mut scratch = [0u8; 256];
        // Anything written to stdin is ignored; only its end matters.
        while matches!(stdin.read(&mut scratch).await, Ok(read) if read > 0) {}
    };
    tokio::select! {
        _ = stdin_closed => {}
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_fraction_is_spread_evenly() {
        let pattern: Vec<bool> = (0..4).map(|index| is_tls(index, 0.5)).collect();
        assert_eq!(pattern, [false, true, false, true]);
        assert_eq!((0..10_000).filter(|i| is_tls(*i, 0.5)).count(), 5000);
        assert_eq!((0..10).filter(|i| is_tls(*i, 0.0)).count(), 0);
        assert_eq!((0..10).filter(|i| is_tls(*i, 1.0)).count(), 10);
    }
}
