//! Posthorn's configuration: the TOML file of SPEC §2, read in two stages.
//!
//! Stage one ([`raw`]) is serde structs that mirror the file and deny unknown keys;
//! stage two ([`validate`]) fills in production defaults and turns strings into
//! types (addresses, networks, durations, sizes), so the rest of Posthorn only ever
//! sees a [`Config`] that makes sense. Every error names the file and line:column.
//!
//! This crate does not read certificates or maps, nor check that paths exist: those
//! belong to the crates that use them (and to `posthorn check`).

mod error;
mod names;
mod raw;
mod types;
mod units;
mod validate;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use error::{ConfigError, ConfigErrorKind, Position};
pub use names::{check_host_name, NameError};
pub use types::*;
pub use units::{parse_duration, parse_size, DurationError, SizeError};

use raw::RawConfig;
use validate::Builder;

/// The embedded default config (SPEC §1, `posthorn serve` without `-c`).
pub const EMBEDDED_DEFAULT: &str = include_str!("default.toml");

/// Where the system-wide config lives when neither `-c` nor `$POSTHORN_CONFIG` is given.
pub const SYSTEM_CONFIG_PATH: &str = "/etc/posthorn/posthorn.toml";

/// The environment variable naming a config file.
pub const CONFIG_ENV: &str = "POSTHORN_CONFIG";

/// The name used in errors for text that did not come from a file.
const EMBEDDED_NAME: &str = "<embedded>";

/// Used only when the system host name is unusable and the embedded default cannot fail.
const FALLBACK_HOSTNAME: &str = "localhost";

impl Config {
    /// The embedded default: one `mta` listener on 127.0.0.1:2525, spool
    /// `./posthorn-spool`, relaying for 127.0.0.0/8 and ::1, delivery by MX.
    ///
    /// The host name is the system's; if that is not a valid EHLO name, `localhost`.
    pub fn embedded_default() -> Config {
        match Config::from_toml(EMBEDDED_DEFAULT, None) {
            Ok(config) => config,
            Err(_) => parse(EMBEDDED_DEFAULT, None, |_| Ok(FALLBACK_HOSTNAME.to_owned()))
                .unwrap_or_else(|error| unreachable!("embedded default config: {error}")),
        }
    }

    /// Parses and validates config text; `source` names the file in errors and in
    /// [`Config::source`]. Keys the text leaves out take production defaults.
    pub fn from_toml(text: &str, source: Option<&Path>) -> Result<Config, ConfigError> {
        parse(text, source, system_hostname)
    }

    /// Finds and reads the config: `explicit` (from `-c`), else `$POSTHORN_CONFIG`,
    /// else `/etc/posthorn/posthorn.toml` if it exists, else the embedded default.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let chosen = choose_config_file(
            explicit,
            std::env::var_os(CONFIG_ENV),
            Path::new(SYSTEM_CONFIG_PATH),
        );
        match chosen {
            Some(path) => Config::read(&path),
            None => Config::from_toml(EMBEDDED_DEFAULT, None),
        }
    }

    /// Reads and parses one file.
    pub fn read(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
            file: path.display().to_string(),
            position: None,
            kind: ConfigErrorKind::Read(error),
        })?;
        Config::from_toml(&text, Some(path))
    }
}

/// The file [`Config::load`] reads, or `None` for the embedded default.
pub fn choose_config_file(
    explicit: Option<&Path>,
    environment: Option<OsString>,
    system_path: &Path,
) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_owned());
    }
    if let Some(path) = environment.filter(|value| !value.is_empty()) {
        return Some(PathBuf::from(path));
    }
    system_path.exists().then(|| system_path.to_owned())
}

fn parse(
    text: &str,
    source: Option<&Path>,
    default_hostname: impl FnOnce(&Builder<'_>) -> Result<String, ConfigError>,
) -> Result<Config, ConfigError> {
    let file = source.map_or_else(|| EMBEDDED_NAME.to_owned(), |p| p.display().to_string());
    let builder = Builder { text, file: &file };
    let raw: RawConfig = toml::from_str(text).map_err(|error| {
        let kind = ConfigErrorKind::Toml(error.message().to_owned());
        builder.error(error.span().unwrap_or(0..0), kind)
    })?;
    let hostname = match builder.hostname(&raw)? {
        Some(hostname) => hostname,
        None => default_hostname(&builder)?,
    };
    let mut config = builder.build(raw, hostname)?;
    config.source = source.map(Path::to_owned);
    Ok(config)
}

fn system_hostname(builder: &Builder<'_>) -> Result<String, ConfigError> {
    let text = names::system_host_name().unwrap_or_default();
    match check_host_name(&text) {
        Ok(()) => Ok(text),
        Err(reason) => Err(ConfigError {
            file: builder.file.to_owned(),
            position: None,
            kind: ConfigErrorKind::SystemHostname { text, reason },
        }),
    }
}

#[cfg(test)]
mod tests;
