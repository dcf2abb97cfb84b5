//! Posthorn's mail log (SPEC §5), as a `tracing` layer.
//!
//! Events with target `posthorn::mail` are mail-log lines: their fields are the log's
//! keys in the order written, and a `qid` field becomes the `ID: ` prefix. They are
//! written in sendmail's style (`Nov 20 23:19:53 host posthorn[PID]: ID: from=<a@b>,
//! size=123, ...`) or as one JSON object per line. Other events (diagnostics) are
//! written too, with their level. `POSTHORN_LOG` filters like `RUST_LOG` (default
//! `info`); the mail log itself stays at `info` unless that variable names
//! `posthorn::mail`.
//!
//! Values are written as given (`relay=localhost [127.0.0.1]`); only `error` is
//! quoted, as sendmail does. Call sites choose the keys: this crate does not know
//! which events exist, and it does not rotate or reopen files.

mod format;
mod layer;
mod record;
mod sink;

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

pub use format::{json_line, sendmail_body, sendmail_header, EventKind, MAIL_TARGET, PROGRAM};
pub use layer::{Clock, Framing, MailLogLayer, SystemClock};
pub use record::{FieldValue, Record};
pub use sink::{FileWriter, MemoryWriter, RecordWriter, StderrWriter, SyslogWriter, SYSLOG_SOCKET};

/// The environment variable holding the `RUST_LOG`-style filter.
pub const FILTER_ENV: &str = "POSTHORN_LOG";

/// `log.format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Sendmail,
    Json,
}

/// Where the log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Stderr,
    /// Appended to, created if missing.
    File(PathBuf),
    /// The local syslog socket, facility mail.
    Syslog,
}

/// Everything [`init`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    pub format: Format,
    pub destination: Destination,
    /// Written in sendmail lines and as `host` in JSON.
    pub hostname: String,
}

/// Why the log could not be set up.
#[derive(Debug, Error)]
pub enum LogError {
    #[error("cannot open log file {path}: {source}")]
    File { path: PathBuf, source: io::Error },
    #[error("cannot reach syslog at {SYSLOG_SOCKET}: {0}")]
    Syslog(#[source] io::Error),
    #[error("bad {FILTER_ENV} filter `{text}`: {reason}")]
    Filter { text: String, reason: String },
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Keeps the log set up; hold it for the life of the program. Writes are synchronous,
/// so dropping it loses nothing; it exists so a buffered writer can be added later
/// without changing callers.
#[derive(Debug)]
#[must_use = "the log stays set up only while the guard is held"]
pub struct LogGuard {
    _private: (),
}

/// Installs the mail log as the global `tracing` subscriber.
pub fn init(options: LogOptions) -> Result<LogGuard, LogError> {
    let filter = filter_from(std::env::var(FILTER_ENV).ok().as_deref())?;
    let LogOptions {
        format,
        destination,
        hostname,
    } = options;
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match destination {
        Destination::Stderr => {
            let layer = MailLogLayer::new(format, Framing::Lines, hostname, StderrWriter);
            registry.with(layer).try_init()
        }
        Destination::File(path) => {
            let writer =
                FileWriter::open(&path).map_err(|source| LogError::File { path, source })?;
            registry
                .with(MailLogLayer::new(format, Framing::Lines, hostname, writer))
                .try_init()
        }
        Destination::Syslog => {
            let writer =
                SyslogWriter::connect(Path::new(SYSLOG_SOCKET)).map_err(LogError::Syslog)?;
            registry
                .with(MailLogLayer::new(format, Framing::Syslog, hostname, writer))
                .try_init()
        }
    };
    installed.map_err(|_| LogError::AlreadyInstalled)?;
    Ok(LogGuard { _private: () })
}

/// The filter for `POSTHORN_LOG`'s value (`None`: unset). Mail-log events stay at
/// `info` unless the value says something about `posthorn::mail` itself.
pub fn filter_from(value: Option<&str>) -> Result<EnvFilter, LogError> {
    let text = value
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .unwrap_or("info");
    let with_mail = if text.contains(MAIL_TARGET) {
        text.to_owned()
    } else {
        format!("{text},{MAIL_TARGET}=info")
    };
    EnvFilter::try_new(&with_mail).map_err(|error| LogError::Filter {
        text: text.to_owned(),
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests;
