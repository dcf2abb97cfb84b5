//! The `posthorn` binary: parses the command line, loads the config and hands over to
//! one subcommand in `cmd/`. Errors are reported once, here, with their context, and
//! turned into sendmail-compatible exit codes.

mod cli;
mod cmd;
mod exit;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Serve(config) => cmd::serve::run(config.config.as_deref()),
        cli::Command::Queue { config, action } => cmd::queue::run(config.config.as_deref(), action),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("posthorn: {error:#}");
            exit::code_for(&error)
        }
    }
}
