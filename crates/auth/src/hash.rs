//! Password hashes: argon2id PHC strings for new passwords, bcrypt accepted when
//! verifying, and the user-name rules of the password file.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

/// Longer names are certainly a mistake (or an attack on memory); Dovecot's limit is similar.
const MAX_USER_NAME_LEN: usize = 255;

/// Spent on unknown users so that "no such user" takes as long as "wrong password"
/// (no user enumeration by timing). Its parameters must stay those of
/// [`hash_password`]; a test checks that.
const DUMMY_PASSWORD: &str = "posthorn dummy password: never matches a real user";

/// A stored hash we cannot use.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("not a PHC string or bcrypt hash: {0}")]
    Format(String),
    #[error("cannot compute the hash: {0}")]
    Compute(String),
}

/// Why a user name cannot go into the password file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UserNameError {
    #[error("the user name is empty")]
    Empty,
    #[error("the user name is longer than {MAX_USER_NAME_LEN} bytes")]
    TooLong,
    #[error("the user name contains ':', which separates it from the hash")]
    Colon,
    #[error("the user name contains a control character (NUL, tab, newline...)")]
    Control,
    #[error("the user name starts with '#', which marks a comment")]
    Comment,
}

/// Whether `user` can be stored in (and looked up from) the password file.
pub fn check_user_name(user: &str) -> Result<(), UserNameError> {
    if user.is_empty() {
        Err(UserNameError::Empty)
    } else if user.len() > MAX_USER_NAME_LEN {
        Err(UserNameError::TooLong)
    } else if user.contains(':') {
        Err(UserNameError::Colon)
    } else if user.chars().any(char::is_control) {
        Err(UserNameError::Control)
    } else if user.starts_with('#') {
        Err(UserNameError::Comment)
    } else {
        Ok(())
    }
}

/// A new argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) for
/// `password`, with a random salt and the argon2 crate's recommended parameters.
pub(crate) fn hash_password(password: &str) -> Result<String, HashError> {
    let hash: PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|error| HashError::Compute(error.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches `stored` (argon2 PHC or bcrypt `$2b$`/`$2a$`/`$2y$`,
/// optionally with Dovecot's scheme prefix such as `{BLF-CRYPT}`).
pub(crate) fn verify_hash(stored: &str, password: &str) -> Result<bool, HashError> {
    let stored = without_dovecot_scheme(stored);
    if is_bcrypt(stored) {
        return bcrypt::verify(password, stored)
            .map_err(|error| HashError::Format(error.to_string()));
    }
    let parsed = PasswordHash::new(stored).map_err(|error| HashError::Format(error.to_string()))?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(error) => Err(HashError::Format(error.to_string())),
    }
}

/// Verifies against the user's hash, or for an unknown user (`None`) spends the same
/// work on a dummy hash and says no.
pub(crate) fn verify_or_spend(stored: Option<&str>, password: &str) -> Result<bool, HashError> {
    match stored {
        Some(stored) => verify_hash(stored, password),
        None => {
            // The result is irrelevant, only the time it takes: an unknown user never passes.
            let _ = verify_hash(dummy_hash(), password);
            Ok(false)
        }
    }
}

/// The dummy hash, made once per process with the same parameters as real ones.
/// Its salt is fixed: the dummy never has to resist cracking, only to cost the same
/// to verify, and a fixed salt needs no random numbers that could fail.
pub(crate) fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        Argon2::default()
            .hash_password_with_salt(DUMMY_PASSWORD.as_bytes(), DUMMY_SALT)
            .map(|hash: PasswordHash| hash.to_string())
            // Unreachable with a valid fixed salt; a string that fails to parse only
            // makes unknown users faster, never accepted.
            .unwrap_or_default()
    })
}

const DUMMY_SALT: &[u8] = b"posthorn-dummy-salt";

/// Lines copied from a Dovecot passwd-file carry the scheme in braces; the hash after
/// it is the same string.
fn without_dovecot_scheme(stored: &str) -> &str {
    const SCHEMES: [&str; 3] = ["{BLF-CRYPT}", "{ARGON2ID}", "{ARGON2I}"];
    SCHEMES
        .iter()
        .find_map(|scheme| {
            let prefix = stored.get(..scheme.len())?;
            prefix
                .eq_ignore_ascii_case(scheme)
                .then(|| &stored[scheme.len()..])
        })
        .unwrap_or(stored)
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|prefix| stored.starts_with(prefix))
}

#[cfg(test)]
mod tests;
