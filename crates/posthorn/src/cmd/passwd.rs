//! `posthorn passwd add USER | remove USER | list`: the AUTH users in
//! `auth.password_file`. The file is changed atomically and a running daemon notices
//! the change at the next AUTH, so no reload is needed.

use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

use posthorn_auth::{check_user_name, PasswordFile};

use super::load_config;
use crate::cli::PasswdAction;
use crate::exit;

/// Why no password could be taken from stdin.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
enum PasswordInputError {
    #[error("empty password refused")]
    Empty,
    #[error("the two passwords do not match")]
    Mismatch,
    #[error("no password on standard input")]
    Missing,
    #[error("the password is not valid UTF-8")]
    NotUtf8,
}

pub fn run(config_path: Option<&Path>, action: PasswdAction) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let Some(path) = config.auth.password_file.clone() else {
        let source = config.source.as_deref().map_or_else(
            || "the built-in default config".to_owned(),
            |source| source.display().to_string(),
        );
        eprintln!(
            "posthorn: `auth.password_file` is not set in {source}; set it under [auth] \
             to manage AUTH users with `posthorn passwd`"
        );
        return Ok(ExitCode::from(exit::CONFIG));
    };
    match action {
        PasswdAction::Add { user } => add(&path, &user),
        PasswdAction::Remove { user } => remove(&path, &user),
        PasswdAction::List => list(&path),
    }
}

fn add(path: &Path, user: &str) -> anyhow::Result<ExitCode> {
    if let Err(error) = check_user_name(user) {
        eprintln!("posthorn: {user:?}: {error}");
        return Ok(ExitCode::from(exit::USAGE));
    }
    let password = match read_password() {
        Ok(password) => password,
        Err(error) => {
            eprintln!("posthorn: {error}");
            return Ok(ExitCode::from(exit::DATA_ERROR));
        }
    };
    let existed = PasswordFile::users(path)
        .map(|users| users.iter().any(|known| known == user))
        .unwrap_or(false);
    match PasswordFile::add(path, user, &password) {
        Ok(()) if existed => println!("{user}: password replaced"),
        Ok(()) => println!("{user}: added"),
        Err(error) => return Ok(cannot_update(path, &error)),
    }
    Ok(ExitCode::SUCCESS)
}

fn remove(path: &Path, user: &str) -> anyhow::Result<ExitCode> {
    match PasswordFile::remove(path, user) {
        Ok(true) => {
            println!("{user}: removed");
            Ok(ExitCode::SUCCESS)
        }
        Ok(false) => {
            eprintln!("posthorn: {user}: no such user in {}", path.display());
            Ok(ExitCode::FAILURE)
        }
        Err(error) => Ok(cannot_update(path, &error)),
    }
}

fn list(path: &Path) -> anyhow::Result<ExitCode> {
    match PasswordFile::users(path) {
        Ok(users) => {
            for user in users {
                println!("{user}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("posthorn: cannot read {}: {error}", path.display());
            Ok(ExitCode::from(exit::IO_ERROR))
        }
    }
}

fn cannot_update(path: &Path, error: &std::io::Error) -> ExitCode {
    eprintln!("posthorn: cannot update {}: {error}", path.display());
    ExitCode::from(exit::IO_ERROR)
}

/// On a terminal: asked twice without echo. Otherwise: the first line of stdin, so
/// scripts can pipe it in (never on the command line, where `ps` shows it).
fn read_password() -> Result<String, PasswordInputError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first =
            rpassword::prompt_password("Password: ").map_err(|_| PasswordInputError::Missing)?;
        let second =
            rpassword::prompt_password("Again: ").map_err(|_| PasswordInputError::Missing)?;
        return confirmed(first, &second);
    }
    let mut line = Vec::new();
    stdin
        .lock()
        .read_until(b'\n', &mut line)
        .map_err(|_| PasswordInputError::Missing)?;
    password_from_line(line)
}

fn confirmed(first: String, second: &str) -> Result<String, PasswordInputError> {
    if first != second {
        return Err(PasswordInputError::Mismatch);
    }
    non_empty(first)
}

/// The line without its line ending (LF or CRLF); everything else is the password.
fn password_from_line(mut line: Vec<u8>) -> Result<String, PasswordInputError> {
    if line.is_empty() {
        return Err(PasswordInputError::Missing);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    let password = String::from_utf8(line).map_err(|_| PasswordInputError::NotUtf8)?;
    non_empty(password)
}

fn non_empty(password: String) -> Result<String, PasswordInputError> {
    if password.is_empty() {
        Err(PasswordInputError::Empty)
    } else {
        Ok(password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_ending_is_not_part_of_the_password() {
        let from = |text: &[u8]| password_from_line(text.to_vec());
        assert_eq!(from(b"s3cret\n"), Ok("s3cret".to_owned()));
        assert_eq!(from(b"s3cret\r\n"), Ok("s3cret".to_owned()));
        assert_eq!(from(b"no newline"), Ok("no newline".to_owned()));
        assert_eq!(from(b" spaced \t\n"), Ok(" spaced \t".to_owned()));
        assert_eq!(from(b"\n"), Err(PasswordInputError::Empty));
        assert_eq!(from(b"\r\n"), Err(PasswordInputError::Empty));
        assert_eq!(from(b""), Err(PasswordInputError::Missing));
        assert_eq!(from(b"\xff\n"), Err(PasswordInputError::NotUtf8));
    }

    #[test]
    fn prompted_passwords_must_match_and_not_be_empty() {
        assert_eq!(confirmed("a".into(), "a"), Ok("a".to_owned()));
        assert_eq!(
            confirmed("a".into(), "b"),
            Err(PasswordInputError::Mismatch)
        );
        assert_eq!(confirmed(String::new(), ""), Err(PasswordInputError::Empty));
    }
}
