pub mod check;
pub mod import_sendmail;
pub mod passwd;
pub mod policy;
pub mod probe;
pub mod queue;
pub mod sendmail;
pub mod serve;
pub mod tls_memory;

use std::path::Path;

use anyhow::Context;
use posthorn_config::Config;

/// Loads the config the way every command does (SPEC §1).
pub fn load_config(explicit: Option<&Path>) -> anyhow::Result<Config> {
    Config::load(explicit).context("configuration")
}
