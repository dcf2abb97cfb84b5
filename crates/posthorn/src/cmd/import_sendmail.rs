//! `posthorn import-sendmail [--mc F] [--access F] [--mailertable F]`: reads a sendmail
//! setup and prints the equivalent Posthorn config on stdout, with a comment for each
//! item it cannot carry over.
//!
//! The `.mc` file is read with a small m4 reader (`m4`), its calls are mapped to
//! settings (`mapping`, `features`, `daemons`) and written as TOML (`output`). Before
//! anything is printed the text goes through Posthorn's own config parser: output that
//! `posthorn serve` would refuse is a bug here, reported with exit 70, never printed.
//! Files that the config names but this machine lacks (certificates) are left for
//! `posthorn check` to report.

mod conversion;
mod daemons;
mod features;
mod m4;
mod mapping;
mod output;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use posthorn_config::{Config, ConfigError, ConfigErrorKind};
use thiserror::Error;

use crate::cli::ImportSendmailArgs;
use crate::exit;

pub use mapping::MapFiles;

/// Where sendmail keeps its `.mc` file when `--mc` is not given.
pub const DEFAULT_MC: &str = "/etc/mail/sendmail.mc";

/// Why no config was printed.
#[derive(Debug, Error)]
pub enum ImportError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{}: {}", path.display(), error.line, error.kind)]
    Mc { path: PathBuf, error: m4::McError },
    #[error("internal error: the converted config does not parse ({0}); please report this with the .mc file")]
    Unparsable(#[source] ConfigError),
}

impl ImportError {
    /// sysexits: a missing input file, bad input data, or our own fault.
    pub fn exit_code(&self) -> u8 {
        match self {
            ImportError::Read { .. } => exit::NO_INPUT,
            ImportError::Mc { .. } => exit::DATA_ERROR,
            ImportError::Unparsable(_) => exit::SOFTWARE,
        }
    }
}

pub fn run(args: &ImportSendmailArgs) -> anyhow::Result<ExitCode> {
    let mc = args.mc.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_MC));
    let files = MapFiles {
        access: args.access.clone(),
        mailertable: args.mailertable.clone(),
    };
    match import(&mc, &files) {
        Ok(converted) => {
            for warning in &converted.warnings {
                eprintln!("posthorn: warning: {warning}");
            }
            print!("{}", converted.text);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("posthorn: {error}");
            Ok(ExitCode::from(error.exit_code()))
        }
    }
}

/// The config text and the problems to fix before using it.
#[derive(Debug)]
pub struct Converted {
    pub text: String,
    pub warnings: Vec<String>,
}

/// Reads the `.mc` file and the map files, and converts them.
pub fn import(mc: &Path, files: &MapFiles) -> Result<Converted, ImportError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| ImportError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let text = read(mc)?;
    // A map given by name must exist: a typo should not become a config that fails later.
    for map in [&files.access, &files.mailertable].into_iter().flatten() {
        read(map)?;
    }
    convert(&text, mc, files)
}

/// Converts `.mc` text; `mc` names it in errors and in the output's header.
pub fn convert(text: &str, mc: &Path, files: &MapFiles) -> Result<Converted, ImportError> {
    let calls = m4::read(text).map_err(|error| ImportError::Mc {
        path: mc.to_owned(),
        error,
    })?;
    let conversion = mapping::convert(&calls, files);
    let text = output::write(&conversion, &mc.display().to_string());
    match Config::from_toml(&text, None) {
        // Without `hostname` the parser asks this machine for its name; a machine whose
        // name is unusable says nothing about the converted text.
        Err(error) if !matches!(error.kind, ConfigErrorKind::SystemHostname { .. }) => {
            return Err(ImportError::Unparsable(error));
        }
        _ => {}
    }
    Ok(Converted {
        text,
        warnings: conversion.warnings,
    })
}
