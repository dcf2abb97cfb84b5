//! The sendmail command line, parsed by hand: sendmail's flags do not fit a modern
//! parser (`-oi`, `-faddr` and `-f addr`, `-bp`, clusters like `-ti`).
//!
//! Grammar, as getopt(3) reads it: options come first; `-xyz` is a cluster of
//! single-letter options, and an option that takes a value takes the rest of its
//! cluster or else the next argument; the first argument that is not an option, or
//! `--`, ends the options and everything after it is a recipient.
//!
//! Honoured: `-t`, `-i`, `-oi`, `-f`/`-r ADDR`, `-F NAME`, `-C FILE`, `-bm` (the
//! default), `-bp`, `-bs`, `-q`. Accepted and ignored, as Postfix does: `-v`, `-m`,
//! `-n`, `-G`, `-U`, `-B TYPE`, `-N DSN`, `-R RET`, `-V ENVID`, `-L TAG`, `-h HOPS`,
//! `-A c|m`, and the `-o` options `-om -o7 -o8 -odb -odi -odq -odd -oeX` (any
//! error mode X). Anything else is a usage error (exit 64).

use std::path::PathBuf;

/// What the invocation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Read a message on stdin and queue it (`-bm`, the default).
    #[default]
    Submit,
    /// List the queue (`-bp`, `mailq`).
    ListQueue,
    /// SMTP on stdin/stdout (`-bs`).
    SmtpSession,
    /// Ask the daemon to run the queue now (`-q`).
    FlushQueue,
}

/// A parsed command line; addresses are still text (they need the config's hostname).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    pub mode: Mode,
    /// `-t`: recipients from To:, Cc: and Bcc:, added to those on the command line.
    pub recipients_from_headers: bool,
    /// `-i`/`-oi`: a line holding only "." is message text, not the end of it.
    pub ignore_dots: bool,
    /// `-f`/`-r`: the envelope sender.
    pub sender: Option<String>,
    /// `-F`: the full name for a From: header added when the message has none.
    pub full_name: Option<String>,
    /// `-C`: the config file.
    pub config: Option<PathBuf>,
    pub recipients: Vec<String>,
}

/// A command line sendmail would refuse (exit 64).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("unknown option -{0}")]
    UnknownOption(String),
    #[error("option -{0} requires a value")]
    MissingValue(char),
    #[error("-b{0}: only -bm, -bp and -bs are supported")]
    UnsupportedMode(String),
    #[error("-q{0}: only a plain -q (run the queue now) is supported")]
    UnsupportedQueueRun(String),
}

/// The letters whose option takes a value.
const OPTIONS_WITH_VALUE: &str = "frFCboBNRVLhA";

/// `-o` options accepted and ignored (after the `o`); `-oe` takes any error mode.
const IGNORED_O_OPTIONS: [&str; 7] = ["m", "7", "8", "db", "di", "dq", "dd"];

/// Parses the arguments after the program name.
pub fn parse<I>(arguments: I) -> Result<Options, UsageError>
where
    I: IntoIterator<Item = String>,
{
    let mut options = Options::default();
    let mut arguments = arguments.into_iter();
    while let Some(argument) = arguments.next() {
        if argument == "--" {
            break;
        }
        if let Some(long) = argument.strip_prefix("--") {
            return Err(UsageError::UnknownOption(format!("-{long}")));
        }
        let Some(cluster) = argument.strip_prefix('-').filter(|rest| !rest.is_empty()) else {
            options.recipients.push(argument);
            break;
        };
        parse_cluster(cluster, &mut arguments, &mut options)?;
    }
    options.recipients.extend(arguments);
    Ok(options)
}

/// One `-xyz` argument: flags until an option that takes the rest as its value.
fn parse_cluster(
    cluster: &str,
    arguments: &mut impl Iterator<Item = String>,
    options: &mut Options,
) -> Result<(), UsageError> {
    for (index, letter) in cluster.char_indices() {
        let rest = &cluster[index + letter.len_utf8()..];
        match letter {
            't' => options.recipients_from_headers = true,
            'i' => options.ignore_dots = true,
            'v' | 'm' | 'n' | 'G' | 'U' => {}
            'q' => return queue_run(rest, options),
            _ if OPTIONS_WITH_VALUE.contains(letter) => {
                let value = match rest {
                    "" => arguments.next().ok_or(UsageError::MissingValue(letter))?,
                    _ => rest.to_owned(),
                };
                return option_with_value(letter, value, options);
            }
            _ => return Err(UsageError::UnknownOption(letter.to_string())),
        }
    }
    Ok(())
}

fn option_with_value(letter: char, value: String, options: &mut Options) -> Result<(), UsageError> {
    match letter {
        'f' | 'r' => options.sender = Some(value),
        'F' => options.full_name = Some(value),
        'C' => options.config = Some(PathBuf::from(value)),
        'b' => options.mode = delivery_mode(&value)?,
        'o' => other_option(&value, options)?,
        'B' | 'N' | 'R' | 'V' | 'L' | 'h' | 'A' => {}
        _ => return Err(UsageError::UnknownOption(letter.to_string())),
    }
    Ok(())
}

fn delivery_mode(value: &str) -> Result<Mode, UsageError> {
    match value {
        "m" => Ok(Mode::Submit),
        "p" => Ok(Mode::ListQueue),
        "s" => Ok(Mode::SmtpSession),
        _ => Err(UsageError::UnsupportedMode(value.to_owned())),
    }
}

fn other_option(value: &str, options: &mut Options) -> Result<(), UsageError> {
    if value == "i" {
        options.ignore_dots = true;
    } else if !(IGNORED_O_OPTIONS.contains(&value) || value.starts_with('e')) {
        return Err(UsageError::UnknownOption(format!("o{value}")));
    }
    Ok(())
}

fn queue_run(rest: &str, options: &mut Options) -> Result<(), UsageError> {
    if !rest.is_empty() {
        return Err(UsageError::UnsupportedQueueRun(rest.to_owned()));
    }
    options.mode = Mode::FlushQueue;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Result<Options, UsageError> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    fn with(change: impl FnOnce(&mut Options)) -> Result<Options, UsageError> {
        let mut options = Options::default();
        change(&mut options);
        Ok(options)
    }

    fn recipients(list: &[&str]) -> Vec<String> {
        list.iter().map(|text| text.to_string()).collect()
    }

    #[test]
    fn command_lines_parse_as_sendmail_reads_them() {
        let table = [
            ("a@x", with(|o| o.recipients = recipients(&["a@x"]))),
            (
                "-t -i",
                with(|o| {
                    o.recipients_from_headers = true;
                    o.ignore_dots = true
                }),
            ),
            (
                "-ti",
                with(|o| {
                    o.recipients_from_headers = true;
                    o.ignore_dots = true
                }),
            ),
            (
                "-oi a@x",
                with(|o| {
                    o.ignore_dots = true;
                    o.recipients = recipients(&["a@x"])
                }),
            ),
            ("-o i", with(|o| o.ignore_dots = true)),
            (
                "-f me@x b@y",
                with(|o| {
                    o.sender = Some("me@x".into());
                    o.recipients = recipients(&["b@y"])
                }),
            ),
            (
                "-fme@x b@y",
                with(|o| {
                    o.sender = Some("me@x".into());
                    o.recipients = recipients(&["b@y"])
                }),
            ),
            ("-r me@x", with(|o| o.sender = Some("me@x".into()))),
            (
                "-tif me@x",
                with(|o| {
                    o.recipients_from_headers = true;
                    o.ignore_dots = true;
                    o.sender = Some("me@x".into())
                }),
            ),
            ("-F Joe", with(|o| o.full_name = Some("Joe".into()))),
            (
                "-C /etc/p.toml",
                with(|o| o.config = Some("/etc/p.toml".into())),
            ),
            (
                "-C/etc/p.toml",
                with(|o| o.config = Some("/etc/p.toml".into())),
            ),
            ("-bp", with(|o| o.mode = Mode::ListQueue)),
            ("-b p", with(|o| o.mode = Mode::ListQueue)),
            ("-bs", with(|o| o.mode = Mode::SmtpSession)),
            ("-bm a@x", with(|o| o.recipients = recipients(&["a@x"]))),
            ("-q", with(|o| o.mode = Mode::FlushQueue)),
            (
                "-odi -odb -oem -om -v -B 8BITMIME -N never -U a@x",
                with(|o| o.recipients = recipients(&["a@x"])),
            ),
            (
                "-R hdrs -V env1 -L tag -h 20 -Am -G -n -m a@x",
                with(|o| o.recipients = recipients(&["a@x"])),
            ),
            ("-- -t", with(|o| o.recipients = recipients(&["-t"]))),
            (
                "a@x -t",
                with(|o| o.recipients = recipients(&["a@x", "-t"])),
            ),
            ("- a@x", with(|o| o.recipients = recipients(&["-", "a@x"]))),
        ];
        for (line, expected) in table {
            assert_eq!(parsed(line), expected, "{line}");
        }
    }

    #[test]
    fn bad_command_lines_are_usage_errors() {
        let table = [
            ("-x", UsageError::UnknownOption("x".into())),
            ("-tx", UsageError::UnknownOption("x".into())),
            ("-d0.1", UsageError::UnknownOption("d".into())),
            ("-oQ/tmp", UsageError::UnknownOption("oQ/tmp".into())),
            ("-f", UsageError::MissingValue('f')),
            ("-t -C", UsageError::MissingValue('C')),
            ("-bd", UsageError::UnsupportedMode("d".into())),
            ("-bi", UsageError::UnsupportedMode("i".into())),
            ("-q30m", UsageError::UnsupportedQueueRun("30m".into())),
            ("--help", UsageError::UnknownOption("-help".into())),
        ];
        for (line, expected) in table {
            assert_eq!(parsed(line), Err(expected), "{line}");
        }
    }
}
