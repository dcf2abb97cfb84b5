//! Command-line grammar (clap). Each subcommand's behaviour lives in `cmd/`.

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
    /// Remove a message from the queue.
    Delete { id: String },
    /// Keep a message from being delivered until released.
    Hold { id: String },
    /// Let a held message be delivered again.
    Release { id: String },
}
