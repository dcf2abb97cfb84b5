//! `posthorn probe DESTINATION`: a live TLS diagnosis (SPEC §1). The probing is
//! `posthorn_delivery::probe`, built from this config the way the daemon builds its
//! deliverer; this file parses the arguments, runs it, prints the report (human text in
//! `probe/render.rs`, `--json` in `probe/json.rs`) and picks the exit code: 0 when the
//! probe ran, whatever it found; 69 when no address answered; 78 for a config error.

mod json;
mod render;

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use posthorn_config::{Config, PlaintextRetry, TlsFailure};
use posthorn_delivery::probe::{ProbeReport, ProbeTarget, ProbeTimeouts, Prober};

use super::load_config;
use crate::cli::ProbeArgs;
use crate::exit;

/// sysexits' EX_UNAVAILABLE: no address of the destination answered.
const UNAVAILABLE: u8 = 69;

/// The settings the report repeats, so that it can be read on its own.
pub(crate) struct ProbeContext<'a> {
    pub starttls: &'static str,
    pub tls_failure: &'static str,
    pub plaintext_retry: &'static str,
    pub access_map: Option<&'a Path>,
    pub timeouts: ProbeTimeouts,
}

pub fn run(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.config.as_deref())?;
    let target: ProbeTarget = match args.destination.parse() {
        Ok(target) => target,
        Err(error) => return Ok(usage(&format!("bad destination: {error}"))),
    };
    let limit = match posthorn_config::parse_duration(&args.timeout) {
        Ok(limit) if !limit.is_zero() => limit,
        Ok(_) => return Ok(usage("--timeout must be more than zero")),
        Err(error) => return Ok(usage(&format!("--timeout: {error}"))),
    };
    let timeouts = ProbeTimeouts::uniform(limit);
    let prober = match Prober::from_config(&config, timeouts) {
        Ok(prober) => prober,
        Err(error) => {
            eprintln!("posthorn: probe: {error}");
            return Ok(ExitCode::from(exit::CONFIG));
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let report = runtime.block_on(prober.probe(&target));
    let context = context(&config, timeouts);
    let output = if args.json {
        format!("{:#}\n", json::report(&report, &context))
    } else {
        render::report(&report, &context)
    };
    write_stdout(&output)?;
    Ok(exit_code(&report))
}

fn exit_code(report: &ProbeReport) -> ExitCode {
    if report.any_answered() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(UNAVAILABLE)
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("posthorn: probe: {message}");
    ExitCode::from(exit::USAGE)
}

fn context(config: &Config, timeouts: ProbeTimeouts) -> ProbeContext<'_> {
    ProbeContext {
        starttls: posthorn_policy::TlsMode::from(config.outbound.starttls).name(),
        tls_failure: match config.outbound.tls_failure {
            TlsFailure::Plaintext => "plaintext",
            TlsFailure::Defer => "defer",
        },
        plaintext_retry: match config.outbound.plaintext_retry {
            PlaintextRetry::Immediate => "immediate",
            PlaintextRetry::NextAttempt => "next_attempt",
        },
        access_map: config.maps.access.as_deref(),
        timeouts,
    }
}

/// A step's limit in whole seconds, as the config writes it (`10s`).
pub(crate) fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs())
}

/// Writes the whole output; a reader that went away (`| head`) is not an error.
fn write_stdout(output: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(output.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result.context("writing to stdout"),
    }
}

#[cfg(test)]
mod tests;
