//! When to try a deferred recipient again, when to give up, and when the sender
//! is owed a delayed-delivery warning.
//!
//! Pure functions of the configured durations and the times passed in: no clock
//! is read here, so every decision is tested as a whole timeline. This module
//! does not touch the spool or send anything; the runner does, with its answers.

use std::time::{Duration, SystemTime};

use posthorn_config::Queue;

/// Exponential backoff: `min`, then doubled after each failed attempt, never
/// more than `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    pub min: Duration,
    pub max: Duration,
}

impl RetrySchedule {
    /// The schedule configured in `[queue]`.
    pub fn from_config(queue: &Queue) -> RetrySchedule {
        RetrySchedule {
            min: queue.retry_min,
            max: queue.retry_max,
        }
    }

    /// Delay before the next attempt after `attempts` failed attempts:
    /// 1 -> `min`, 2 -> `2 * min`, 3 -> `4 * min`, ... capped at `max`.
    ///
    /// `attempts = 0` (nothing tried yet) is treated like 1. No overflow for any
    /// `u32`: a doubling that would not fit in a `Duration` is `max`.
    pub fn delay_after(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1);
        1u128
            .checked_shl(doublings)
            .and_then(|factor| self.min.as_nanos().checked_mul(factor))
            .and_then(duration_from_nanos)
            .map_or(self.max, |delay| delay.min(self.max))
    }
}

/// `nanos` as a `Duration`, or `None` when it does not fit in one.
fn duration_from_nanos(nanos: u128) -> Option<Duration> {
    const PER_SECOND: u128 = 1_000_000_000;
    let seconds = u64::try_from(nanos / PER_SECOND).ok()?;
    let subsec = u32::try_from(nanos % PER_SECOND).ok()?;
    Some(Duration::new(seconds, subsec))
}

/// How long a message may wait: a warning to the sender after `warn_after`, and
/// failure after `give_up_after`, both counted from its arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub warn_after: Duration,
    pub give_up_after: Duration,
}

impl Lifetime {
    /// The lifetime configured in `[queue]`.
    pub fn from_config(queue: &Queue) -> Lifetime {
        Lifetime {
            warn_after: queue.warn_after,
            give_up_after: queue.give_up_after,
        }
    }

    /// The moment a message received at `received_at` expires; `None` when that
    /// lies beyond what `SystemTime` can represent (it never expires).
    pub fn deadline(&self, received_at: SystemTime) -> Option<SystemTime> {
        received_at.checked_add(self.give_up_after)
    }
}

/// What to do with a recipient that just failed temporarily.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Keep it deferred and try again at this time.
    RetryAt(SystemTime),
    /// It has been queued too long: fail it (`5.4.7`) and tell the sender.
    GiveUp,
}

/// What to do with a recipient that just failed temporarily, after `attempts`
/// attempts (counting the one that just failed), at `now`.
///
/// - At or past the deadline (`received_at + give_up_after`): give up.
/// - Otherwise retry after [`RetrySchedule::delay_after`]; but when that would
///   fall after the deadline, retry exactly *at* the deadline instead. As in
///   sendmail, a message gets one last attempt when it expires rather than
///   being failed early because the backoff happened to overshoot; if that
///   attempt fails too, it is `now >= deadline` and the answer is `GiveUp`.
pub fn after_temporary_failure(
    schedule: &RetrySchedule,
    lifetime: &Lifetime,
    received_at: SystemTime,
    now: SystemTime,
    attempts: u32,
) -> AfterFailure {
    let Some(deadline) = lifetime.deadline(received_at) else {
        // A deadline beyond SystemTime never comes; a retry time beyond it
        // neither, so that (absurd) recipient is given up rather than spun on.
        return retry_after_delay(schedule, now, attempts)
            .map_or(AfterFailure::GiveUp, AfterFailure::RetryAt);
    };
    if now >= deadline {
        return AfterFailure::GiveUp;
    }
    match retry_after_delay(schedule, now, attempts) {
        Some(next) if next <= deadline => AfterFailure::RetryAt(next),
        _ => AfterFailure::RetryAt(deadline),
    }
}

fn retry_after_delay(
    schedule: &RetrySchedule,
    now: SystemTime,
    attempts: u32,
) -> Option<SystemTime> {
    now.checked_add(schedule.delay_after(attempts))
}

/// True when the sender should now get a delayed-delivery DSN: the message is
/// at least `warn_after` old, no warning was sent before (the spool's
/// `delay_notified`), and it has not yet expired — past the deadline the sender
/// gets the failure DSN instead, so a `warn_after` at or beyond
/// `give_up_after` means no warning at all.
pub fn delay_warning_due(
    lifetime: &Lifetime,
    received_at: SystemTime,
    now: SystemTime,
    already_notified: bool,
) -> bool {
    if already_notified || lifetime.warn_after >= lifetime.give_up_after {
        return false;
    }
    let Some(warn_at) = received_at.checked_add(lifetime.warn_after) else {
        return false;
    };
    let before_deadline = lifetime
        .deadline(received_at)
        .is_none_or(|deadline| now < deadline);
    now >= warn_at && before_deadline
}

#[cfg(test)]
mod tests;
