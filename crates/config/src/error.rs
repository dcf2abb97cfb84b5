//! `ConfigError`: what went wrong, in which file, at which line and column.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use thiserror::Error;

use crate::names::NameError;
use crate::units::{DurationError, SizeError};

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text` (clamped to the end of the text).
    pub fn of_offset(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        Position {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A config file that cannot be used. Displays as `posthorn.toml:7:1: message`.
#[derive(Debug)]
pub struct ConfigError {
    /// The file as named by the caller, or `<embedded>`.
    pub file: String,
    /// Where in the file; `None` when the problem is not at one place (unreadable file).
    pub position: Option<Position>,
    pub kind: ConfigErrorKind,
}

/// What is wrong, independent of where.
#[derive(Debug, Error)]
pub enum ConfigErrorKind {
    #[error("cannot read the config file: {0}")]
    Read(#[source] io::Error),
    /// TOML syntax, an unknown key, a wrong type or an unknown enum value, as `toml` words it
    /// (unknown values list the accepted ones).
    #[error("{0}")]
    Toml(String),
    #[error("`{key}`: {error}")]
    Duration {
        key: &'static str,
        error: DurationError,
    },
    #[error("`{key}`: {error}")]
    Size { key: &'static str, error: SizeError },
    #[error("listener address `{0}` is not an IP address and port such as \"0.0.0.0:25\" or \"[::]:587\"")]
    ListenerAddress(String),
    #[error("two listeners on {address}; the first is at line {first_line}")]
    DuplicateListener {
        address: SocketAddr,
        first_line: usize,
    },
    #[error("relay network `{text}` does not parse: {reason} (expected e.g. \"10.0.0.0/8\" or \"2001:db8::/32\")")]
    Network { text: String, reason: String },
    #[error("nameserver `{0}` is not an IP address, optionally with a port (\"127.0.0.1:5300\", \"[::1]:53\")")]
    Nameserver(String),
    #[error("hostname `{text}` is not a valid host name: {reason}")]
    Hostname { text: String, reason: NameError },
    #[error("the system host name `{text}` is not a valid EHLO name ({reason}); set `hostname` in the config")]
    SystemHostname { text: String, reason: NameError },
    #[error("relay domain `{text}` is not a valid domain name: {reason}")]
    RelayDomain { text: String, reason: NameError },
    #[error("`{key}` must be at least 1")]
    Zero { key: &'static str },
    #[error("`{key}` must be longer than zero")]
    ZeroDuration { key: &'static str },
    #[error(
        "`{smaller}` ({}) must not be longer than `{larger}` ({})",
        humantime::format_duration(*smaller_value),
        humantime::format_duration(*larger_value)
    )]
    DurationOrder {
        smaller: &'static str,
        smaller_value: std::time::Duration,
        larger: &'static str,
        larger_value: std::time::Duration,
    },
    #[error("`log.file` and `log.syslog = true` are both set; choose one")]
    LogDestinationConflict,
    #[error(
        "`auth.password_file` and `auth.dovecot_socket` are both set; choose one AUTH backend"
    )]
    AuthBackendConflict,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(position) => write!(f, "{}:{}: {}", self.file, position, self.kind),
            None => write!(f, "{}: {}", self.file, self.kind),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The kind is already part of our Display; expose only what lies beneath it.
        std::error::Error::source(&self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(
            Position::of_offset(text, 0),
            Position { line: 1, column: 1 }
        );
        assert_eq!(
            Position::of_offset(text, 6),
            Position { line: 2, column: 1 }
        );
        // "b" is byte 6, "é" bytes 7-8, so byte 9 (the space) is the third character.
        assert_eq!(
            Position::of_offset(text, 9),
            Position { line: 2, column: 3 }
        );
        // An offset inside "é" counts as "é" itself.
        assert_eq!(
            Position::of_offset(text, 8),
            Position { line: 2, column: 2 }
        );
        assert_eq!(
            Position::of_offset(text, 999),
            Position { line: 3, column: 1 }
        );
    }
}
