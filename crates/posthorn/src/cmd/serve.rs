//! `posthorn serve`: run the daemon in the foreground.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use posthorn_config::{LogFormat, LogSettings};
use posthorn_log::{Destination, Format, LogOptions};
use posthorn_server::Server;

use super::load_config;

pub fn run(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let _log = posthorn_log::init(log_options(&config.log, &config.hostname))
        .context("cannot open the mail log")?;
    // No transparent huge pages: the allocator's arenas would otherwise be backed (and
    // zeroed) 2 MiB at a time, so RSS jumps by megabytes for a few large buffers and
    // every fresh page costs a 2 MiB memset (bench/README.md, profile note 10). Best
    // effort: an old kernel without the prctl keeps its default.
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let server = Server::bind(config).await?;
        report(&server);
        server.run().await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Tells the operator what is running and where (SPEC §1: listeners, spool, certificate).
fn report(server: &Server) {
    for (address, kind) in server.local_addresses() {
        println!("posthorn: listening on {address} ({kind})");
    }
    let recovery = server.recovery();
    println!(
        "posthorn: spool {}: {} messages queued, {} quarantined, {} incomplete discarded",
        server.spool_path().display(),
        recovery.messages.len(),
        recovery.quarantined.len(),
        recovery.discarded_incomplete,
    );
    for quarantined in &recovery.quarantined {
        println!(
            "posthorn: quarantined {} -> {}: {}",
            quarantined.original.display(),
            quarantined.moved_to.display(),
            quarantined.reason
        );
    }
    let certificate = server.certificate();
    let origin = if certificate.created {
        "self-signed, made now"
    } else if certificate.info.self_signed {
        "self-signed"
    } else {
        "configured"
    };
    println!(
        "posthorn: certificate {} ({origin}) for {}, SHA-256 {}, valid until {}",
        certificate.path.display(),
        certificate.info.names.join(", "),
        certificate.info.sha256_fingerprint,
        chrono::DateTime::<chrono::Utc>::from(certificate.info.not_after).format("%Y-%m-%d"),
    );
}

/// The mail log as configured (SPEC §5): syslog, else the file, else stderr. `sendmail`
/// uses it too.
pub(crate) fn log_options(settings: &LogSettings, hostname: &str) -> LogOptions {
    let destination = if settings.syslog {
        Destination::Syslog
    } else if let Some(file) = &settings.file {
        Destination::File(file.clone())
    } else {
        Destination::Stderr
    };
    LogOptions {
        format: match settings.format {
            LogFormat::Sendmail => Format::Sendmail,
            LogFormat::Json => Format::Json,
        },
        destination,
        hostname: hostname.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn settings(file: Option<&str>, syslog: bool) -> LogSettings {
        LogSettings {
            format: LogFormat::Json,
            file: file.map(PathBuf::from),
            syslog,
        }
    }

    #[test]
    fn syslog_wins_over_a_file_and_a_file_over_stderr() {
        let destination = |file, syslog| log_options(&settings(file, syslog), "h").destination;
        assert_eq!(destination(Some("/x.log"), true), Destination::Syslog);
        assert_eq!(
            destination(Some("/x.log"), false),
            Destination::File(PathBuf::from("/x.log"))
        );
        assert_eq!(destination(None, false), Destination::Stderr);
    }

    #[test]
    fn format_and_hostname_are_carried_over() {
        let options = log_options(&settings(None, false), "mx.example");
        assert_eq!(options.format, Format::Json);
        assert_eq!(options.hostname, "mx.example");
    }
}
