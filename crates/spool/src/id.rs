//! Queue ids: 14 characters, sendmail-like, so that sorting ids roughly sorts by
//! arrival and an administrator can read the arrival time off an id.
//!
//! Layout: year mod 60, month, day, hour, minute, second (one base-60 char each,
//! UTC), a 2-char sequence, 4 chars of the process id, and 2 more counter chars.
//! Uniqueness across processes does not rest on this layout alone: the spool
//! creates each file with `O_EXCL` and takes the next id on a collision.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Base-60 digits in ASCII order, so that byte order of ids is numeric order.
const ALPHABET: &[u8; 60] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwx";
const BASE: u32 = 60;

/// The identifier of one queued message; also its file name in the spool.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(String);

impl QueueId {
    /// Length of every queue id.
    pub const LEN: usize = 14;
}

/// A string that is not a queue id.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("{text:?} is not a queue id: {reason}")]
pub struct InvalidQueueId {
    text: String,
    reason: &'static str,
}

impl FromStr for QueueId {
    type Err = InvalidQueueId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| InvalidQueueId {
            text: text.chars().take(40).collect(),
            reason,
        };
        if text.len() != Self::LEN {
            return Err(invalid("must be 14 characters long"));
        }
        if !text.bytes().all(|byte| ALPHABET.contains(&byte)) {
            return Err(invalid("only 0-9, A-Z and a-x are allowed"));
        }
        Ok(QueueId(text.to_owned()))
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for QueueId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Hands out candidate ids for one process.
#[derive(Debug)]
pub(crate) struct IdGenerator {
    pid: u32,
    counter: AtomicU32,
}

impl IdGenerator {
    pub(crate) fn new(pid: u32) -> Self {
        IdGenerator {
            pid,
            counter: AtomicU32::new(0),
        }
    }

    /// The next candidate id for a message arriving at `now`.
    pub(crate) fn next(&self, now: SystemTime) -> QueueId {
        let count = self.counter.fetch_add(1, Ordering::Relaxed);
        let seconds = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
        let second_of_day = (seconds % 86_400) as u32;
        let mut text = String::with_capacity(QueueId::LEN);
        for digit in [
            year.rem_euclid(60) as u32,
            month - 1,
            day,
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60,
        ] {
            push_base60(&mut text, digit, 1);
        }
        push_base60(&mut text, count % 3600, 2);
        push_base60(&mut text, self.pid, 4);
        push_base60(&mut text, count / 3600, 2);
        QueueId(text)
    }
}

/// Appends the lowest `width` base-60 digits of `value`, most significant first.
fn push_base60(text: &mut String, value: u32, width: u32) {
    for position in (0..width).rev() {
        let digit = value / BASE.pow(position) % BASE;
        text.push(char::from(ALPHABET[digit as usize]));
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month 1-12, day 1-31).
/// Howard Hinnant's `civil_from_days`; avoids a date crate for six characters.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::time::Duration;

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_453), (2025, 12, 31));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn id_encodes_arrival_time() {
        // 2024-02-29 13:45:07 UTC
        let when = UNIX_EPOCH + Duration::from_secs(1_709_214_307);
        let id = IdGenerator::new(12_345).next(when);
        // 2024 mod 60 = 44 -> 'i', Feb -> '1', 29 -> 'T', 13 -> 'D', 45 -> 'j', 7 -> '7'
        assert_eq!(&id.as_ref()[..6], "i1TDj7");
        assert_eq!(&id.as_ref()[6..8], "00");
        // pid 12345 = 3*3600 + 25*60 + 45 -> digits 0, 3, 25, 45
        assert_eq!(&id.as_ref()[8..12], "03Pj");
    }

    #[test]
    fn ids_are_unique_well_formed_and_sorted_within_a_second() {
        let generator = IdGenerator::new(4_194_303);
        let when = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let ids: Vec<QueueId> = (0..20_000).map(|_| generator.next(when)).collect();
        let distinct: HashSet<&QueueId> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in &ids {
            assert_eq!(id.as_ref().parse::<QueueId>().as_ref(), Ok(id));
        }
        // The 2-char sequence orders ids within one second until it wraps at 3600.
        assert!(ids[..3600].windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn later_seconds_sort_after_earlier_ones() {
        let generator = IdGenerator::new(1);
        let early = generator.next(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let late = generator.next(UNIX_EPOCH + Duration::from_secs(1_700_000_001));
        assert!(early < late);
    }

    #[test]
    fn parse_rejects_wrong_length_and_charset() {
        assert!("qAKNj3AB012345".parse::<QueueId>().is_ok());
        assert!("qAKNj3AB01234".parse::<QueueId>().is_err());
        assert!("qAKNj3AB0123456".parse::<QueueId>().is_err());
        assert!("../../etc/pass".parse::<QueueId>().is_err());
        assert!("qAKNj3AB01234y".parse::<QueueId>().is_err());
        assert!("qAKNj3AB01234é".parse::<QueueId>().is_err());
    }
}
