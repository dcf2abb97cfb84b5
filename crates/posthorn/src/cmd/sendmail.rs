//! `posthorn sendmail` (also run as `sendmail`): the sendmail-compatible submission
//! interface. Without a daemon it still queues: the message is committed to the spool
//! before exit 0, then a running daemon is told through the control socket; without
//! one, the daemon's next start finds it.
//!
//! Behaviour that differs between sendmail 8 and Postfix follows Postfix: with `-t`,
//! recipients named on the command line are added to those from the headers (sendmail
//! 8 would remove them). Bcc: and Resent-Bcc: are always removed from the stored
//! message. `-q` asks the daemon to run the queue; it cannot deliver by itself, so
//! without a daemon it fails with 75. The mail log line is written to the configured
//! log file or syslog; when the log goes to stderr it is not written here, as the
//! caller's stderr is no mail log.
//!
//! Exit codes (sysexits): 0 queued; 64 bad usage, a bad address on the command line or
//! no recipients; 65 a bad address in the headers, a header section over 1 MiB, or a
//! message over `limits.message_size`; 74 stdin unreadable; 75 the spool cannot take
//! the message (full disk, I/O) or `-q` without a daemon; 78 a bad config.

mod addresses;
mod args;
mod headers;
mod identity;
mod input;
mod submit;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use posthorn_config::{Config, LogSettings};
use posthorn_server::control::{self, ControlError, ControlRequest};
use posthorn_server::{LocalSubmission, ServerError};
use posthorn_spool::Spool;

use crate::cli::QueueAction;
use crate::exit;
use args::{Mode, Options};
use submit::SubmitError;

/// Runs the sendmail interface; `program` names it in messages (`sendmail`).
pub fn run(program: &str, arguments: Vec<OsString>) -> ExitCode {
    let arguments: Option<Vec<String>> = arguments
        .into_iter()
        .map(|argument| argument.into_string().ok())
        .collect();
    let Some(arguments) = arguments else {
        eprintln!("{program}: arguments must be UTF-8");
        return ExitCode::from(exit::USAGE);
    };
    let options = match args::parse(arguments) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("{program}: {error}");
            return ExitCode::from(exit::USAGE);
        }
    };
    if options.mode == Mode::ListQueue {
        return list_queue(program, options.config.as_deref());
    }
    let config = match super::load_config(options.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{program}: {error:#}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    match options.mode {
        Mode::FlushQueue => flush(program, &config),
        Mode::SmtpSession => smtp_session(program, config),
        Mode::Submit | Mode::ListQueue => submit_from_stdin(program, &config, &options),
    }
}

/// `-bp`: the same listing as `posthorn queue list`.
fn list_queue(program: &str, config_path: Option<&Path>) -> ExitCode {
    match super::queue::run(config_path, QueueAction::List { json: false }) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{program}: {error:#}");
            exit::code_for(&error)
        }
    }
}

/// `-q`: asks the daemon to run the whole queue now.
fn flush(program: &str, config: &Config) -> ExitCode {
    match control::request(&config.spool, &ControlRequest::Flush(None)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{program}: {error}");
            ExitCode::from(exit::for_control(&error))
        }
    }
}

/// `-bs`: one SMTP session on stdin/stdout through the server's session and spool.
fn smtp_session(program: &str, config: Config) -> ExitCode {
    let _log = init_log(program, &config.log, &config.hostname);
    let user = identity::invoking_user();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{program}: cannot start the runtime: {error}");
            return ExitCode::from(exit::OS_ERROR);
        }
    };
    let session =
        posthorn_server::serve_local(config, &user, tokio::io::stdin(), tokio::io::stdout());
    match runtime.block_on(session) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{program}: {error}");
            ExitCode::from(match error {
                ServerError::Spool { .. } => exit::TEMP_FAIL,
                _ => exit::CONFIG,
            })
        }
    }
}

/// The default mode: read the message on stdin and queue it.
fn submit_from_stdin(program: &str, config: &Config, options: &Options) -> ExitCode {
    match submit(program, config, options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{program}: {error}");
            ExitCode::from(exit_code(&error))
        }
    }
}

fn submit(program: &str, config: &Config, options: &Options) -> Result<(), SubmitError> {
    let hostname = config.hostname.as_str();
    let user = identity::invoking_user();
    submit::sender(options, &user, hostname)?;
    let recipients = submit::argument_recipients(options, hostname)?;
    if recipients.is_empty() && !options.recipients_from_headers {
        return Err(SubmitError::NoRecipients);
    }
    let _log = init_log(program, &config.log, hostname);
    let spool = Spool::open(&config.spool)?;
    let mut stdin = std::io::stdin().lock();
    let queued = submit::queue_message(&spool, config, options, &user, recipients, &mut stdin)?;
    let message = &queued.message;
    let sender = message.envelope.sender.to_string();
    posthorn_server::log_local_submission(&LocalSubmission {
        queue_id: message.id.as_ref(),
        sender: &sender,
        size: message.size,
        recipients: message.envelope.recipients.len(),
        message_id: Some(&queued.message_id),
        user: &user,
    });
    match control::request(&config.spool, &ControlRequest::Queued(message.id.clone())) {
        Ok(()) | Err(ControlError::NotRunning { .. }) => {}
        Err(error) => eprintln!("{program}: {} queued, but {error}", message.id),
    }
    Ok(())
}

fn exit_code(error: &SubmitError) -> u8 {
    match error {
        SubmitError::BadSender(_) | SubmitError::BadRecipient(_) | SubmitError::NoRecipients => {
            exit::USAGE
        }
        SubmitError::BadHeaderRecipient(_)
        | SubmitError::HeaderTooLong
        | SubmitError::TooLarge(_) => exit::DATA_ERROR,
        SubmitError::Input(_) => exit::IO_ERROR,
        SubmitError::Spool(_) => exit::TEMP_FAIL,
    }
}

/// The mail log, unless it would go to the caller's stderr (see the module doc). A log
/// that cannot be opened is reported and does not stop the submission.
fn init_log(
    program: &str,
    settings: &LogSettings,
    hostname: &str,
) -> Option<posthorn_log::LogGuard> {
    let options = super::serve::log_options(settings, hostname);
    if options.destination == posthorn_log::Destination::Stderr {
        return None;
    }
    match posthorn_log::init(options) {
        Ok(guard) => Some(guard),
        Err(error) => {
            eprintln!("{program}: warning: no mail log: {error}");
            None
        }
    }
}
