//! The `posthorn` binary: parses the command line, loads the config and hands over to
//! one subcommand in `cmd/`. Errors are reported once, here, with their context, and
//! turned into sendmail-compatible exit codes.
//!
//! Invoked as `sendmail` it is `posthorn sendmail`, as `mailq` it is
//! `posthorn queue list` (through a symlink or a hard link: only argv[0]'s file name
//! counts).

mod cli;
mod cmd;
mod exit;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let mut arguments: Vec<OsString> = std::env::args_os().collect();
    let program = arguments
        .first()
        .and_then(|argv0| Path::new(argv0).file_name())
        .and_then(|name| name.to_str())
        .unwrap_or("posthorn")
        .to_owned();
    match program.as_str() {
        "sendmail" => return cmd::sendmail::run("sendmail", arguments.split_off(1)),
        "mailq" => {
            let rest = arguments.split_off(1);
            arguments = ["posthorn", "queue", "list"].map(OsString::from).into();
            arguments.extend(rest);
        }
        _ => {}
    }
    let cli = cli::Cli::parse_from(arguments);
    let result = match cli.command {
        cli::Command::Serve(config) => cmd::serve::run(config.config.as_deref()),
        cli::Command::Queue { config, action } => cmd::queue::run(config.config.as_deref(), action),
        cli::Command::Check { config, json } => cmd::check::run(config.config.as_deref(), json),
        cli::Command::TlsMemory { config, action } => {
            cmd::tls_memory::run(config.config.as_deref(), action)
        }
        cli::Command::Sendmail { arguments } => return cmd::sendmail::run("sendmail", arguments),
        cli::Command::Policy(args) => cmd::policy::run(args),
        cli::Command::Passwd { config, action } => {
            cmd::passwd::run(config.config.as_deref(), action)
        }
        cli::Command::ImportSendmail(args) => cmd::import_sendmail::run(&args),
        cli::Command::Probe(args) => cmd::probe::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("posthorn: {error:#}");
            exit::code_for(&error)
        }
    }
}
