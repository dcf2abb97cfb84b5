//! Durations (`"30s"`, `"1h30m"`) and sizes (`"50MB"`, `"512KiB"`) as written in the config.

use std::time::Duration;

use thiserror::Error;

/// Why a size string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SizeError {
    #[error("invalid size `{0}`: expected a number of bytes, optionally followed by a unit (k, M, G, T for powers of 1000; KiB, MiB, GiB, TiB for powers of 1024)")]
    Syntax(String),
    #[error("invalid size `{0}`: unknown unit `{1}` (accepted: B, k, kB, M, MB, G, GB, T, TB, KiB, MiB, GiB, TiB)")]
    UnknownUnit(String, String),
    #[error("invalid size `{0}`: too large")]
    Overflow(String),
}

/// Why a duration string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "invalid duration `{text}`: {reason} (examples: \"30s\", \"5m\", \"4h\", \"1h30m\", \"5d\")"
)]
pub struct DurationError {
    pub text: String,
    pub reason: String,
}

/// Parses a duration such as `"30s"`, `"4h"`, `"5d"` or `"1h30m"` (humantime syntax).
///
/// A unit is required: a bare `"30"` is ambiguous, so it is rejected.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    humantime::parse_duration(text.trim()).map_err(|error| DurationError {
        text: text.to_owned(),
        reason: error.to_string(),
    })
}

/// Parses a size in bytes.
///
/// Units are case-insensitive. A single letter or a letter with `B` is decimal, as
/// disk and network sizes are usually quoted: `k`/`kB` = 1000, `M`/`MB` = 1000²,
/// `G`/`GB` = 1000³, `T`/`TB` = 1000⁴. The IEC forms are binary: `KiB` = 1024,
/// `MiB` = 1024², `GiB` = 1024³, `TiB` = 1024⁴. No unit, or `B`, means bytes.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let trimmed = text.trim();
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(digits_end);
    if digits.is_empty() {
        return Err(SizeError::Syntax(text.to_owned()));
    }
    let number: u64 = digits
        .parse()
        .map_err(|_| SizeError::Overflow(text.to_owned()))?;
    let unit = unit.trim_start();
    let multiplier = unit_multiplier(unit)
        .ok_or_else(|| SizeError::UnknownUnit(text.to_owned(), unit.to_owned()))?;
    number
        .checked_mul(multiplier)
        .ok_or_else(|| SizeError::Overflow(text.to_owned()))
}

fn unit_multiplier(unit: &str) -> Option<u64> {
    let multiplier = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return None,
    };
    Some(multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_every_unit() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("1234", 1234),
            ("10B", 10),
            ("512k", 512_000),
            ("512kB", 512_000),
            ("10M", 10_000_000),
            ("50MB", 50_000_000),
            ("50mb", 50_000_000),
            ("1GB", 1_000_000_000),
            ("2T", 2_000_000_000_000),
            ("1KiB", 1024),
            ("50MiB", 50 * 1024 * 1024),
            ("1GiB", 1 << 30),
            ("1TiB", 1 << 40),
            (" 20 MB ", 20_000_000),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_size(text), Ok(*expected), "{text}");
        }
    }

    #[test]
    fn bad_sizes() {
        assert!(matches!(parse_size(""), Err(SizeError::Syntax(_))));
        assert!(matches!(parse_size("MB"), Err(SizeError::Syntax(_))));
        assert!(matches!(parse_size("-5MB"), Err(SizeError::Syntax(_))));
        assert!(matches!(
            parse_size("1.5MB"),
            Err(SizeError::UnknownUnit(..))
        ));
        assert!(matches!(
            parse_size("50XB"),
            Err(SizeError::UnknownUnit(..))
        ));
        assert!(matches!(
            parse_size("99999999999TB"),
            Err(SizeError::Overflow(_))
        ));
        assert!(matches!(
            parse_size("99999999999999999999999"),
            Err(SizeError::Overflow(_))
        ));
    }

    #[test]
    fn durations() {
        let cases: &[(&str, u64)] = &[
            ("30s", 30),
            ("5m", 300),
            ("4h", 4 * 3600),
            ("5d", 5 * 86400),
            ("1h30m", 5400),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(*seconds)),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_durations() {
        for text in ["", "30", "4 hours later", "h", "-5m"] {
            assert!(parse_duration(text).is_err(), "{text:?} should not parse");
        }
    }
}
