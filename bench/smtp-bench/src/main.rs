//! `posthorn-bench`: the benchmark companion tools for comparing Posthorn with Postfix.
//!
//! - `source`: an SMTP load generator (Postfix's `smtp-source`, plus STARTTLS, an
//!   open-loop `--rate` and per-message acceptance latency);
//! - `sink`: an SMTP server that accepts and discards everything, with STARTTLS;
//! - `idle`: holds thousands of idle connections open, some of them TLS;
//! - `cert`: writes a self-signed ECDSA P-256 certificate for the above;
//! - `handshake`: the CPU of a TLS 1.3 handshake at each end, without I/O.
//!
//! It is a measuring instrument, not part of the MTA: it shares the cores with the
//! server under test, so it runs on one tokio worker thread by default, generates the
//! message body once, and writes each message with one vectored write.

mod body;
mod client;
mod handshake;
mod idle;
mod reply;
mod sink;
mod source;
mod stats;
mod stream;
mod tls;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "posthorn-bench",
    version,
    about = "SMTP benchmark tools for Posthorn"
)]
struct Cli {
    /// Tokio worker threads.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send messages to an SMTP server and report throughput and acceptance latency.
    Source(SourceArgs),
    /// Accept and discard every message, counting them.
    Sink(SinkArgs),
    /// Open connections and hold them idle until stdin closes or SIGTERM.
    ///
    /// When started in the background, give it a stdin that stays open (for example
    /// `sleep infinity | posthorn-bench idle ...`): a background job's stdin is often
    /// /dev/null, which ends at once.
    Idle(IdleArgs),
    /// Write a self-signed ECDSA P-256 certificate and key (PEM).
    Cert(CertArgs),
    /// Time full TLS 1.3 handshakes in memory, no I/O: the CPU per handshake of the
    /// load generator's client and Posthorn's server configuration.
    Handshake(HandshakeArgs),
}

#[derive(Debug, clap::Args)]
struct HandshakeArgs {
    #[arg(long, default_value_t = 3000)]
    handshakes: u32,
    /// aws-lc-rs needs a build with `--features aws-lc`.
    #[arg(long, value_enum, default_value_t = handshake::Provider::Ring)]
    provider: handshake::Provider,
    /// One JSON object on stdout instead of the human summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct SourceArgs {
    #[arg(long)]
    server: SocketAddr,
    #[arg(long)]
    messages: u64,
    #[arg(long)]
    sessions: u64,
    /// Bytes per message, headers included.
    #[arg(long)]
    size: usize,
    /// Messages per connection before QUIT and reconnect (e.g. 1000000 for "many").
    #[arg(long, default_value_t = 1)]
    per_connection: u64,
    /// STARTTLS after EHLO (the certificate is not verified), then EHLO again.
    #[arg(long)]
    starttls: bool,
    /// With --starttls: resume TLS sessions (tickets) on later connections, as an MTA
    /// sending to the same server again does; default: a full handshake every time.
    #[arg(long, requires = "starttls")]
    tls_resume: bool,
    /// After the (last) EHLO of every connection, this many NOOPs, each awaited: extra
    /// round trips, to see what the three that STARTTLS adds cost without any crypto.
    #[arg(long, default_value_t = 0)]
    noops: u32,
    /// Open loop: message i starts at start + i/rate (messages per second overall).
    #[arg(long)]
    rate: Option<f64>,
    #[arg(long, default_value = "bench@source.test")]
    from: String,
    #[arg(long, default_value = "rcpt@dest.example")]
    to: String,
    #[arg(long, default_value = "source.test")]
    helo: String,
    /// One JSON object on stdout instead of the human summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct SinkArgs {
    #[arg(long)]
    listen: SocketAddr,
    /// PEM certificate chain; enables STARTTLS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Rewritten with "<messages>\n" every 50 ms and at exit.
    #[arg(long)]
    count_file: Option<PathBuf>,
    #[arg(long, default_value = "sink.test")]
    hostname: String,
}

#[derive(Debug, clap::Args)]
struct IdleArgs {
    #[arg(long)]
    server: SocketAddr,
    #[arg(long)]
    connections: usize,
    /// Fraction of the connections that STARTTLS (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    tls_fraction: f64,
    #[arg(long, default_value = "idle.test")]
    helo: String,
}

#[derive(Debug, clap::Args)]
struct CertArgs {
    /// Where to write the certificate (PEM).
    #[arg(long)]
    cert: PathBuf,
    /// Where to write the private key (PKCS#8 PEM).
    #[arg(long)]
    key: PathBuf,
    #[arg(long, default_value = "sink.test")]
    hostname: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("posthorn-bench: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::Cert(args) = &cli.command {
        tls::write_self_signed(&args.hostname, &args.cert, &args.key)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Handshake(args) = &cli.command {
        let report = handshake::run(handshake::HandshakeOptions {
            handshakes: args.handshakes,
            provider: args.provider,
        })?;
        match args.json {
            true => print_flushed(&serde_json::to_string(&report)?),
            false => print!("{}", report.human()),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let result = runtime.block_on(run_async(cli.command));
    // `idle` may leave a blocking stdin read behind, which a normal runtime drop would
    // wait for forever; nothing else is in flight by now.
    runtime.shutdown_background();
    result
}

async fn run_async(command: Command) -> Result<ExitCode> {
    match command {
        Command::Source(args) => run_source(args).await,
        Command::Sink(args) => {
            let tls = args.tls_cert.zip(args.tls_key);
            sink::run(sink::SinkOptions {
                listen: args.listen,
                tls,
                count_file: args.count_file,
                hostname: args.hostname,
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Idle(args) => {
            idle::run(idle::IdleOptions {
                server: args.server,
                connections: args.connections,
                tls_fraction: args.tls_fraction,
                helo: args.helo,
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Cert(_) | Command::Handshake(_) => Ok(ExitCode::SUCCESS),
    }
}

/// Exit 0 only when something was sent and nothing failed.
async fn run_source(args: SourceArgs) -> Result<ExitCode> {
    let report = source::run(source::SourceOptions {
        server: args.server,
        messages: args.messages,
        sessions: args.sessions,
        size: args.size,
        per_connection: args.per_connection,
        starttls: args.starttls,
        tls_resume: args.tls_resume,
        noops: args.noops,
        rate: args.rate,
        from: args.from,
        to: args.to,
        helo: args.helo,
    })
    .await?;
    if args.json {
        print_flushed(&serde_json::to_string(&report)?);
    } else {
        print!("{}", report.human());
    }
    Ok(match report.sent > 0 && report.failed == 0 {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(1),
    })
}

/// Prints a line and flushes, for scripts waiting on a pipe for it.
pub(crate) fn print_flushed(line: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed stdout is the caller's choice; nothing useful to do about it.
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}
