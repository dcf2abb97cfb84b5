//! Host and domain name syntax (RFC 1035 §2.3.1 as relaxed by RFC 1123 §2.1),
//! and the system host name.

use thiserror::Error;

/// Why a name is not a usable host or domain name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("it is empty")]
    Empty,
    #[error("it is longer than 253 characters")]
    TooLong,
    #[error("it has an empty label")]
    EmptyLabel,
    #[error("label `{0}` is longer than 63 characters")]
    LabelTooLong(String),
    #[error("label `{0}` starts or ends with a hyphen")]
    Hyphen(String),
    #[error("character {0:?} is not allowed (letters, digits, hyphens and dots only)")]
    Character(char),
}

/// Checks that `name` is a dot-separated host name of letters, digits and hyphens.
pub fn check_host_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > 253 {
        return Err(NameError::TooLong);
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(NameError::Character(bad));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > 63 {
            return Err(NameError::LabelTooLong(label.to_owned()));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(NameError::Hyphen(label.to_owned()));
        }
    }
    Ok(())
}

/// The system host name from `gethostname(2)`; `None` when it cannot be read as UTF-8.
pub fn system_host_name() -> Option<String> {
    let mut buffer = [0u8; 256];
    // SAFETY: the pointer and length describe `buffer`, which outlives the call.
    let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if result != 0 {
        return None;
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8(buffer[..end].to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        for name in [
            "mx1.example.com",
            "localhost",
            "a-b.c0",
            "EXAMPLE.org",
            "1.2.3.4",
        ] {
            assert_eq!(check_host_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn invalid_names() {
        assert_eq!(check_host_name(""), Err(NameError::Empty));
        assert_eq!(check_host_name("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(
            check_host_name("mx.example.com."),
            Err(NameError::EmptyLabel)
        );
        assert_eq!(check_host_name("my_host"), Err(NameError::Character('_')));
        assert_eq!(
            check_host_name("-mx.example"),
            Err(NameError::Hyphen("-mx".into()))
        );
        assert!(matches!(
            check_host_name(&"a".repeat(64)),
            Err(NameError::LabelTooLong(_))
        ));
        let long = vec!["abcdefghi"; 30].join(".");
        assert_eq!(check_host_name(&long), Err(NameError::TooLong));
    }
}
