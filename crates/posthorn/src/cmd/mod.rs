pub mod queue;
pub mod sendmail;
pub mod serve;

use std::path::Path;

use anyhow::Context;
use posthorn_config::Config;

/// Loads the config the way every command does (SPEC §1).
pub fn load_config(explicit: Option<&Path>) -> anyhow::Result<Config> {
    Config::load(explicit).context("configuration")
}
