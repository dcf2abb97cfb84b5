//! Command-line grammar (clap). Each subcommand's behaviour lives in `cmd/`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "posthorn", version, about = "Posthorn mail transfer agent")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// Config file (default: $POSTHORN_CONFIG, /etc/posthorn/posthorn.toml, else built in).
    #[arg(short = 'c', long = "config", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground.
    Serve(ConfigArg),
    /// Inspect and act on queued messages.
    Queue {
        #[command(flatten)]
        config: ConfigArg,
        #[command(subcommand)]
        action: QueueAction,
    },
    /// sendmail-compatible submission (also run as `sendmail`).
    ///
    /// The message comes on stdin. Options as sendmail's: -t -i -oi -f ADDR -F NAME
    /// -bp -bs -q -C FILE.
    #[command(disable_help_flag = true)]
    Sendmail {
        /// sendmail's options and recipients, parsed the way sendmail parses them.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        arguments: Vec<OsString>,
    },
}

#[derive(Debug, Subcommand)]
pub enum QueueAction {
    /// List queued messages with each recipient's status.
    List {
        /// One JSON array for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Show one message: its envelope, then the message as stored.
    Show { id: String },
    /// Ask the running daemon to attempt delivery now: every message, or only ID.
    Flush { id: Option<String> },
    /// Remove a message from the queue.
    Delete { id: String },
    /// Keep a message from being delivered until released.
    Hold { id: String },
    /// Let a held message be delivered again.
    Release { id: String },
}
