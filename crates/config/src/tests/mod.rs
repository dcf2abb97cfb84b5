//! Whole-file tests: defaults, the embedded config, a file with every key, and each
//! error with its file:line:column.

use std::net::SocketAddr;
use std::path::Path;

use super::*;

mod defaults;
mod errors;

fn parse_named(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, Some(Path::new("posthorn.toml")))
}

/// The error for `text`, which must not parse.
fn error_of(text: &str) -> ConfigError {
    match parse_named(text) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(error) => error,
    }
}

fn socket(text: &str) -> SocketAddr {
    text.parse().unwrap()
}
