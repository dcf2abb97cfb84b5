//! Queues one message read from stdin: envelope from the options (and the headers
//! with `-t`), the `Received:` header, the completed header section, then the body,
//! streamed into the spool and committed durably before it returns.
//!
//! It does not talk to the daemon or write the log: the caller does, once the
//! message is safe.

use std::io::{self, Read};

use chrono::{Local, Utc};
use posthorn_config::Config;
use posthorn_proto::{ForwardPath, MailParams, RcptParams, ReversePath};
use posthorn_spool::{
    ClientInfo, Envelope, MessageWriter, QueuedMessage, Recipient, Spool, SpoolError,
};

use super::addresses::{self, BadAddress};
use super::args::Options;
use super::headers::{self, Defaults, HeaderSection};
use super::input::Normalizer;

/// A header section longer than this is refused rather than held in memory.
const MAX_HEADER_SECTION: usize = 1024 * 1024;
const READ_PIECE: usize = 64 * 1024;

/// Why a message was not queued; each kind has its sysexits code.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("bad sender address: {0}")]
    BadSender(BadAddress),
    #[error("bad recipient address: {0}")]
    BadRecipient(BadAddress),
    #[error("bad recipient address in the message headers: {0}")]
    BadHeaderRecipient(BadAddress),
    #[error("no recipient addresses (give them as arguments, or use -t)")]
    NoRecipients,
    #[error("the header section is longer than {MAX_HEADER_SECTION} bytes")]
    HeaderTooLong,
    #[error("message larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("cannot read the message: {0}")]
    Input(io::Error),
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

/// A queued message, for the log line and the daemon.
#[derive(Debug)]
pub struct Queued {
    pub message: QueuedMessage,
    pub message_id: String,
}

/// The envelope sender: `-f` (`<>` for the null sender; a bare name gets
/// `@hostname`), else the invoking user at the configured host name.
pub fn sender(options: &Options, user: &str, hostname: &str) -> Result<ReversePath, SubmitError> {
    let given = options.sender.as_deref().map(str::trim);
    if matches!(given, Some("" | "<>")) {
        return Ok(ReversePath::Null);
    }
    let text = given.unwrap_or(user);
    let specs = addresses::addr_specs(text);
    let bad = |reason: &str| BadAddress {
        text: text.to_owned(),
        reason: reason.to_owned(),
    };
    let [spec] = specs.as_slice() else {
        return Err(SubmitError::BadSender(bad("not one address")));
    };
    match addresses::forward_path(spec, hostname).map_err(SubmitError::BadSender)? {
        ForwardPath::Mailbox(mailbox) => Ok(ReversePath::Mailbox(mailbox)),
        ForwardPath::Postmaster => Err(SubmitError::BadSender(bad("not a mailbox"))),
    }
}

/// The recipients given as arguments; each may be an address list.
pub fn argument_recipients(
    options: &Options,
    hostname: &str,
) -> Result<Vec<ForwardPath>, SubmitError> {
    let specs = options
        .recipients
        .iter()
        .flat_map(|arg| addresses::addr_specs(arg));
    specs
        .map(|spec| addresses::forward_path(&spec, hostname).map_err(SubmitError::BadRecipient))
        .collect()
}

/// Reads the message from `input` and queues it. `recipients` are those from the
/// command line; with `-t` the header recipients are added to them.
pub fn queue_message(
    spool: &Spool,
    config: &Config,
    options: &Options,
    user: &str,
    recipients: Vec<ForwardPath>,
    input: &mut dyn Read,
) -> Result<Queued, SubmitError> {
    let hostname = config.hostname.as_str();
    let sender = sender(options, user, hostname)?;
    let mut recipients = recipients;
    let mut normalizer = Normalizer::new(!options.ignore_dots);
    let (head, section) = read_header_section(input, &mut normalizer)?;
    if options.recipients_from_headers {
        recipients.extend(header_recipients(&section, hostname)?);
    }
    let recipients = without_duplicates(recipients);
    if recipients.is_empty() {
        return Err(SubmitError::NoRecipients);
    }
    let envelope = envelope(sender.clone(), recipients);
    let mut writer = spool.create(&envelope)?;
    let id = writer.id().to_string();
    let message_id = section
        .message_id()
        .unwrap_or_else(|| format!("<{id}@{hostname}>"));
    let from = match &sender {
        ReversePath::Mailbox(mailbox) => mailbox.to_string(),
        ReversePath::Null => format!("{user}@{hostname}"),
    };
    let defaults = Defaults {
        now: Local::now(),
        message_id: &message_id,
        from: &from,
        full_name: options.full_name.as_deref(),
    };
    let limit = config.limits.message_size;
    let mut body = Body {
        writer: &mut writer,
        limit,
    };
    body.write(received(user, hostname, &id).as_bytes())?;
    body.write(&section.render(&defaults))?;
    body.write(&head[section.body_start..])?;
    stream_rest(input, &mut normalizer, &mut body)?;
    let message = writer.commit().wait()?;
    Ok(Queued {
        message,
        message_id,
    })
}

/// The `-t` recipients, completed with the host name where they have no domain.
fn header_recipients(
    section: &HeaderSection,
    hostname: &str,
) -> Result<Vec<ForwardPath>, SubmitError> {
    section
        .recipient_specs()
        .iter()
        .map(|spec| {
            addresses::forward_path(spec, hostname).map_err(SubmitError::BadHeaderRecipient)
        })
        .collect()
}

/// Normalised input up to the end of the header section (and possibly some body).
fn read_header_section(
    input: &mut dyn Read,
    normalizer: &mut Normalizer,
) -> Result<(Vec<u8>, HeaderSection), SubmitError> {
    let mut head = Vec::new();
    let mut piece = vec![0u8; READ_PIECE];
    loop {
        let count = read_some(input, &mut piece)?;
        if count == 0 || normalizer.ended() {
            normalizer.finish(&mut head);
            let section = headers::parse(&head, true).ok_or(SubmitError::HeaderTooLong)?;
            return Ok((head, section));
        }
        normalizer.feed(&piece[..count], &mut head);
        if let Some(section) = headers::parse(&head, false) {
            return Ok((head, section));
        }
        if head.len() > MAX_HEADER_SECTION {
            return Err(SubmitError::HeaderTooLong);
        }
    }
}

/// Copies the rest of the input, normalised, into the message.
fn stream_rest(
    input: &mut dyn Read,
    normalizer: &mut Normalizer,
    body: &mut Body<'_>,
) -> Result<(), SubmitError> {
    let mut piece = vec![0u8; READ_PIECE];
    let mut normalized = Vec::with_capacity(READ_PIECE + READ_PIECE / 8);
    while !normalizer.ended() {
        let count = read_some(input, &mut piece)?;
        if count == 0 {
            normalizer.finish(&mut normalized);
        } else {
            normalizer.feed(&piece[..count], &mut normalized);
        }
        body.write(&normalized)?;
        normalized.clear();
    }
    Ok(())
}

fn read_some(input: &mut dyn Read, piece: &mut [u8]) -> Result<usize, SubmitError> {
    loop {
        match input.read(piece) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            result => return result.map_err(SubmitError::Input),
        }
    }
}

/// The open spool file with the size limit enforced as bytes arrive.
struct Body<'a> {
    writer: &'a mut MessageWriter,
    limit: u64,
}

impl Body<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), SubmitError> {
        if self.writer.size() + bytes.len() as u64 > self.limit {
            return Err(SubmitError::TooLarge(self.limit));
        }
        Ok(self.writer.write(bytes)?)
    }
}

/// Recipients in first-seen order; the domain compares without case, the local
/// part with it (RFC 5321 §2.4).
fn without_duplicates(recipients: Vec<ForwardPath>) -> Vec<ForwardPath> {
    let mut seen = std::collections::HashSet::new();
    recipients
        .into_iter()
        .filter(|path| {
            let key = match path {
                ForwardPath::Mailbox(mailbox) => {
                    format!("{}@{}", mailbox.local_part, mailbox.domain.lookup_key())
                }
                ForwardPath::Postmaster => "postmaster".to_owned(),
            };
            seen.insert(key)
        })
        .collect()
}

fn envelope(sender: ReversePath, recipients: Vec<ForwardPath>) -> Envelope {
    Envelope {
        sender,
        params: MailParams::default(),
        recipients: recipients
            .into_iter()
            .map(|address| Recipient::new(address, RcptParams::default()))
            .collect(),
        client: ClientInfo {
            helo: "localhost".to_owned(),
            address: None,
            hostname: Some("localhost".to_owned()),
            protocol: "local".to_owned(),
            auth_id: None,
            tls_version: None,
        },
        received_at: std::time::SystemTime::now(),
    }
}

/// The trace header of a local submission (sendmail writes `(from user@localhost)`).
fn received(user: &str, hostname: &str, id: &str) -> String {
    let date = Utc::now().format("%a, %d %b %Y %H:%M:%S +0000");
    format!("Received: from {user}\r\n\tby {hostname} (Posthorn) id {id};\r\n\t{date}\r\n")
}

#[cfg(test)]
#[path = "submit_tests.rs"]
mod tests;
