//! SMTP command lines (RFC 5321 §4.1.1) parsed into [`Command`], and the precise
//! reply for each way a line can be wrong ([`CommandError::reply`]).
//!
//! Input is one line without its line ending (see [`crate::framing::line`]). Verbs
//! and parameter keywords are case-insensitive; trailing spaces and tabs are
//! ignored. This module knows grammar only: whether a command is allowed *now* is
//! the session's business.
//!
//! Error replies:
//!
//! | problem                                   | reply     |
//! |-------------------------------------------|-----------|
//! | unknown verb                              | 500 5.5.1 |
//! | line too long (reported by the framer)    | 500 5.5.2 |
//! | malformed command (`MAIL` without `FROM:`) | 501 5.5.2 |
//! | missing, unexpected or bad argument       | 501 5.5.4 |
//! | unknown ESMTP parameter                   | 555 5.5.4 |
//! | bad, duplicate or malformed parameter     | 501 5.5.4 |
//! | bad sender / recipient address (also too long) | 501 5.1.7 / 501 5.1.3 |
//! | non-ASCII address without SMTPUTF8        | 553 5.6.7 |
//! | invalid UTF-8 anywhere in the command     | 501 5.6.7 |
//!
//! Invalid UTF-8 uses 5.6.7 rather than a generic syntax code because the usual
//! cause is a client sending Latin-1 where SMTPUTF8 would need UTF-8.

use thiserror::Error;

use crate::address::{self, AddressError, ForwardPath, ReversePath};
use crate::params::{MailParams, ParamError, RcptParams};
use crate::reply::Reply;
use crate::status;

/// One parsed SMTP command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The client's name as given (domain or address literal, leniently checked).
    Ehlo(String),
    Helo(String),
    Mail {
        from: ReversePath,
        params: MailParams,
    },
    Rcpt {
        to: ForwardPath,
        params: RcptParams,
    },
    Data,
    /// RFC 3030 `BDAT <size> [LAST]`.
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    Vrfy(String),
    Expn(String),
    Help(Option<String>),
    StartTls,
    /// RFC 4954: the mechanism upper-cased; the initial response as sent (base64 or `=`).
    Auth {
        mechanism: String,
        initial_response: Option<String>,
    },
}

/// What the parser needs to know about the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseContext {
    /// The current transaction's `MAIL FROM` carried `SMTPUTF8`, so `RCPT TO`
    /// may use UTF-8 addresses (RFC 6531 §3.4).
    pub smtputf8_transaction: bool,
}

/// Why a command line was refused; [`CommandError::reply`] gives the wire answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    #[error("Command unrecognized")]
    Unrecognized,
    #[error("Line too long")]
    LineTooLong,
    #[error("Syntax: {0}")]
    Syntax(&'static str),
    #[error("Syntax: {0} needs an argument")]
    MissingArgument(&'static str),
    #[error("Syntax: {0} takes no argument")]
    UnexpectedArgument(&'static str),
    #[error("Syntax: bad {0}")]
    BadArgument(&'static str),
    #[error("Bad sender address: {0}")]
    Sender(AddressError),
    #[error("Bad recipient address: {0}")]
    Recipient(AddressError),
    #[error("{0}")]
    Param(#[from] ParamError),
    #[error("Invalid UTF-8 in command")]
    InvalidUtf8,
}

impl CommandError {
    /// The reply that tells the client exactly what was wrong.
    pub fn reply(&self) -> Reply {
        let (code, enhanced) = match self {
            CommandError::Unrecognized => (500, status::INVALID_COMMAND),
            CommandError::LineTooLong => (500, status::SYNTAX_ERROR),
            CommandError::Syntax(_) => (501, status::SYNTAX_ERROR),
            CommandError::MissingArgument(_)
            | CommandError::UnexpectedArgument(_)
            | CommandError::BadArgument(_) => (501, status::INVALID_ARGUMENTS),
            CommandError::Param(ParamError::Unknown(_)) => (555, status::INVALID_ARGUMENTS),
            CommandError::Param(_) => (501, status::INVALID_ARGUMENTS),
            CommandError::Sender(error) => address_reply(error, status::BAD_SENDER_SYNTAX),
            CommandError::Recipient(error) => address_reply(error, status::BAD_RECIPIENT_SYNTAX),
            CommandError::InvalidUtf8 => (501, status::NON_ASCII_ADDRESS),
        };
        Reply::new(code, enhanced, self.to_string())
    }
}

fn address_reply(
    error: &AddressError,
    syntax: crate::reply::EnhancedStatus,
) -> (u16, crate::reply::EnhancedStatus) {
    match error {
        AddressError::NonAsciiWithoutSmtputf8 => (553, status::NON_ASCII_ADDRESS),
        AddressError::InvalidUtf8 => (501, status::NON_ASCII_ADDRESS),
        _ => (501, syntax),
    }
}

/// Parses one command line (without CRLF) outside an SMTPUTF8 transaction.
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    parse_command_in(line, ParseContext::default())
}

/// Parses one command line (without CRLF) in the given session context.
pub fn parse_command_in(line: &[u8], context: ParseContext) -> Result<Command, CommandError> {
    let line = line.trim_ascii_end();
    let (verb, argument) = match line.iter().position(|&b| b == b' ') {
        Some(space) => (&line[..space], Some(line[space..].trim_ascii_start())),
        None => (line, None),
    };
    let verb = std::str::from_utf8(verb)
        .map_err(|_| CommandError::Unrecognized)?
        .to_ascii_uppercase();
    match verb.as_str() {
        "EHLO" => hello_name("EHLO", argument).map(Command::Ehlo),
        "HELO" => hello_name("HELO", argument).map(Command::Helo),
        "MAIL" => mail(argument),
        "RCPT" => rcpt(argument, context),
        "DATA" => no_argument("DATA", argument, Command::Data),
        "BDAT" => bdat(argument),
        "RSET" => no_argument("RSET", argument, Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => no_argument("QUIT", argument, Command::Quit),
        "VRFY" => required_text("VRFY", argument).map(Command::Vrfy),
        "EXPN" => required_text("EXPN", argument).map(Command::Expn),
        "HELP" => Ok(Command::Help(
            argument.map(|topic| String::from_utf8_lossy(topic).into_owned()),
        )),
        "STARTTLS" => no_argument("STARTTLS", argument, Command::StartTls),
        "AUTH" => auth(argument),
        _ => Err(CommandError::Unrecognized),
    }
}

fn no_argument(
    verb: &'static str,
    argument: Option<&[u8]>,
    command: Command,
) -> Result<Command, CommandError> {
    match argument {
        None => Ok(command),
        Some(_) => Err(CommandError::UnexpectedArgument(verb)),
    }
}

/// A non-empty argument of text: valid UTF-8, no control characters.
fn required_text(verb: &'static str, argument: Option<&[u8]>) -> Result<String, CommandError> {
    let argument = argument.ok_or(CommandError::MissingArgument(verb))?;
    let text = std::str::from_utf8(argument).map_err(|_| CommandError::InvalidUtf8)?;
    if text.chars().any(char::is_control) {
        return Err(CommandError::BadArgument("characters in argument"));
    }
    Ok(text.to_owned())
}

/// `EHLO`/`HELO` name, checked as leniently as Postfix does: anything printable.
///
/// Clients send bare host names, IP addresses without brackets and worse; refusing
/// them gains nothing, and policy can still look at the name.
fn hello_name(verb: &'static str, argument: Option<&[u8]>) -> Result<String, CommandError> {
    required_text(verb, argument)
}

/// `MAIL FROM:<reverse-path> [SP params]`.
fn mail(argument: Option<&[u8]>) -> Result<Command, CommandError> {
    let argument = argument.ok_or(CommandError::MissingArgument("MAIL"))?;
    let rest =
        strip_keyword(argument, b"FROM:").ok_or(CommandError::Syntax("MAIL FROM:<address>"))?;
    let (path, params) = address::split_path(rest).map_err(CommandError::Sender)?;
    let params = MailParams::parse(param_text(params)?)?;
    let from = address::parse_reverse_path(path, params.smtputf8).map_err(CommandError::Sender)?;
    Ok(Command::Mail { from, params })
}

/// `RCPT TO:<forward-path> [SP params]`.
fn rcpt(argument: Option<&[u8]>, context: ParseContext) -> Result<Command, CommandError> {
    let argument = argument.ok_or(CommandError::MissingArgument("RCPT"))?;
    let rest = strip_keyword(argument, b"TO:").ok_or(CommandError::Syntax("RCPT TO:<address>"))?;
    let (path, params) = address::split_path(rest).map_err(CommandError::Recipient)?;
    let params = RcptParams::parse(param_text(params)?)?;
    let to = address::parse_forward_path(path, context.smtputf8_transaction)
        .map_err(CommandError::Recipient)?;
    Ok(Command::Rcpt { to, params })
}

/// Strips `FROM:` / `TO:` (any case) and at most one space after the colon.
fn strip_keyword<'a>(argument: &'a [u8], keyword: &[u8]) -> Option<&'a [u8]> {
    let head = argument.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = &argument[keyword.len()..];
    Some(rest.strip_prefix(b" ").unwrap_or(rest))
}

/// What follows the path: nothing, or parameters after a space.
fn param_text(after_path: &[u8]) -> Result<&[u8], CommandError> {
    match after_path.first() {
        None | Some(b' ') => Ok(after_path),
        Some(_) => Err(CommandError::Param(ParamError::Syntax)),
    }
}

/// RFC 3030: `BDAT 1*DIGIT [SP "LAST"]`.
fn bdat(argument: Option<&[u8]>) -> Result<Command, CommandError> {
    let argument = argument.ok_or(CommandError::MissingArgument("BDAT"))?;
    let mut words = argument.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let size = words
        .next()
        .filter(|digits| digits.len() <= 20 && digits.iter().all(u8::is_ascii_digit))
        .and_then(|digits| std::str::from_utf8(digits).ok()?.parse().ok())
        .ok_or(CommandError::BadArgument("BDAT chunk size"))?;
    let last = match words.next() {
        None => false,
        Some(word) if word.eq_ignore_ascii_case(b"LAST") => true,
        Some(_) => return Err(CommandError::BadArgument("BDAT argument")),
    };
    match words.next() {
        None => Ok(Command::Bdat { size, last }),
        Some(_) => Err(CommandError::BadArgument("BDAT argument")),
    }
}

/// RFC 4954: `AUTH mechanism [SP initial-response]`.
fn auth(argument: Option<&[u8]>) -> Result<Command, CommandError> {
    let argument = argument.ok_or(CommandError::MissingArgument("AUTH"))?;
    let mut words = argument.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let is_mech_char = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    let mechanism = words
        .next()
        .filter(|mech| mech.len() <= 20 && mech.iter().all(is_mech_char))
        .ok_or(CommandError::BadArgument("SASL mechanism"))?;
    let is_base64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    let initial_response = match words.next() {
        None => None,
        Some(response) if response.iter().all(is_base64) => Some(response),
        Some(_) => return Err(CommandError::BadArgument("AUTH initial response")),
    };
    if words.next().is_some() {
        return Err(CommandError::BadArgument("AUTH argument"));
    }
    Ok(Command::Auth {
        mechanism: String::from_utf8_lossy(mechanism).to_ascii_uppercase(),
        initial_response: initial_response.map(|r| String::from_utf8_lossy(r).into_owned()),
    })
}

#[cfg(test)]
mod tests;
