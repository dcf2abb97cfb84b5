//! Command-line grammar (clap). Each subcommand's behaviour lives in `cmd/`.

use std::ffi::OsString;
use std::net::IpAddr;
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
    /// Validate the config, maps and certificates without starting.
    ///
    /// Exit 0: no problems; 1: warnings only; 78: errors.
    Check {
        #[command(flatten)]
        config: ConfigArg,
        /// One JSON object for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Show and clear the remembered broken-TLS peers.
    TlsMemory {
        #[command(flatten)]
        config: ConfigArg,
        #[command(subcommand)]
        action: TlsMemoryAction,
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
    /// Explain which outbound TLS policy applies to a destination, and why.
    Policy(PolicyArgs),
    /// Manage the AUTH users in `auth.password_file`.
    ///
    /// Exit 0: done; 1: `remove` of a user that does not exist; 65: empty or
    /// mismatched password; 78: no `auth.password_file` configured.
    Passwd {
        #[command(flatten)]
        config: ConfigArg,
        #[command(subcommand)]
        action: PasswdAction,
    },
    /// Read a sendmail setup and print the equivalent Posthorn config.
    ///
    /// Items that cannot be carried over get a comment saying why. Exit 0: printed;
    /// 65: the .mc file cannot be read as m4; 66: a file is missing.
    ImportSendmail(ImportSendmailArgs),
    /// Live TLS diagnosis of a destination: what a delivery there would meet and do.
    ///
    /// Exit 0: the probe ran (whatever it found); 69: no address answered; 78: config error.
    Probe(ProbeArgs),
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

#[derive(Debug, Subcommand)]
pub enum PasswdAction {
    /// Set USER's password, adding the user or replacing the old password.
    ///
    /// The password comes on stdin: prompted twice without echo on a terminal,
    /// otherwise the first line.
    Add { user: String },
    /// Remove USER.
    Remove { user: String },
    /// List the users, one per line.
    List,
}

#[derive(Debug, Subcommand)]
pub enum TlsMemoryAction {
    /// List the hosts and IPs that deliveries currently reach without STARTTLS.
    List {
        /// One JSON array for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Forget one host or IP (`[ip]` and `IPv6:ip` accepted), or everything.
    Forget {
        #[arg(value_name = "HOST-OR-IP")]
        key: Option<String>,
    },
}

/// `posthorn policy HOST-OR-DOMAIN [--ip IP] [--rcpt-domain D] [--json]`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The MX or mailertable host name, `[ip]`, or an IP address.
    #[arg(value_name = "HOST-OR-DOMAIN")]
    pub destination: String,
    /// The host's address, whose access-map keys are tried too (no DNS lookup is made).
    #[arg(long, value_name = "IP")]
    pub ip: Option<IpAddr>,
    /// The recipient domain for `TLS_Rcpt:` (default: the destination itself).
    #[arg(long, value_name = "DOMAIN")]
    pub rcpt_domain: Option<String>,
    /// One JSON object for scripts.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `posthorn probe DESTINATION [--json] [--timeout DURATION]`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// `domain` (routed as its mail: mailertable, smarthost, MX), `domain:port` (its MX
    /// hosts on that port), `[host]` or `[host]:port` (that host's addresses), `[ip]`,
    /// `[ip]:port` or `[IPv6:addr]` (that address).
    #[arg(value_name = "DESTINATION")]
    pub destination: String,
    /// The limit for each step: connect, each reply, the TLS handshake.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub timeout: String,
    /// One JSON object for scripts.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `posthorn import-sendmail [--mc F] [--access F] [--mailertable F]`.
#[derive(Debug, Args)]
pub struct ImportSendmailArgs {
    /// sendmail's m4 config (default: /etc/mail/sendmail.mc).
    #[arg(long, value_name = "FILE")]
    pub mc: Option<PathBuf>,
    /// The access map's text source (not access.db); checked as Posthorn reads it.
    #[arg(long, value_name = "FILE")]
    pub access: Option<PathBuf>,
    /// The mailertable's text source; checked as Posthorn reads it.
    #[arg(long, value_name = "FILE")]
    pub mailertable: Option<PathBuf>,
}
