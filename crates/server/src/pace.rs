//! How long a session waits for its client, as pure decisions over instants the driver
//! passes in (so tests need no clock):
//!
//! - **A deadline per command.** `timeouts.command` runs from the moment the server last
//!   answered, and reading does not restart it: a client trickling one byte at a time
//!   (slowloris) is dropped when the deadline passes, not kept alive by each byte.
//! - **Inside a message** (from DATA or the first BDAT to its end): silence longer than
//!   `timeouts.data_block`, a whole message longer than `timeouts.data_end`, or a window
//!   of `timeouts.data_rate_window` that brought fewer than
//!   `data_min_bytes_per_second` × its length. The first window is the grace period; a
//!   message that ends inside it is never measured. Windows are consecutive, each
//!   judged when it ends, which the driver learns from [`Pace::wake_at`].

use std::time::{Duration, Instant};

use posthorn_config::Timeouts;

/// Why the client is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// Silent too long, or a command not finished in time: `421 4.4.2` timeout.
    Timeout,
    /// A message coming in below the minimum rate or past its deadline.
    TooSlow,
}

/// The limits, from `[timeouts]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PaceLimits {
    pub(crate) command: Duration,
    pub(crate) data_block: Duration,
    pub(crate) data_end: Duration,
    pub(crate) window: Duration,
    pub(crate) min_bytes_per_second: u64,
}

impl PaceLimits {
    pub(crate) fn from_config(timeouts: &Timeouts) -> Self {
        PaceLimits {
            command: timeouts.command,
            data_block: timeouts.data_block,
            data_end: timeouts.data_end,
            window: timeouts.data_rate_window,
            min_bytes_per_second: timeouts.data_min_bytes_per_second,
        }
    }
}

/// One message's clock.
#[derive(Debug, Clone, Copy)]
struct MessagePace {
    deadline: Instant,
    idle_until: Instant,
    window_start: Instant,
    window_bytes: u64,
}

/// The timing state of one session.
#[derive(Debug, Clone)]
pub(crate) struct Pace {
    limits: PaceLimits,
    command_deadline: Instant,
    message: Option<MessagePace>,
}

impl Pace {
    pub(crate) fn new(limits: PaceLimits, now: Instant) -> Self {
        Pace {
            limits,
            command_deadline: now + limits.command,
            message: None,
        }
    }

    /// The server wrote a reply: the client has a new command deadline.
    pub(crate) fn replied(&mut self, now: Instant) {
        self.command_deadline = now + self.limits.command;
    }

    /// When to stop waiting for input and call [`Pace::check`]. `in_message`: the
    /// session is receiving a message's content.
    pub(crate) fn wake_at(&mut self, now: Instant, in_message: bool) -> Instant {
        let limits = self.limits;
        let command_deadline = self.command_deadline;
        let Some(message) = self.message_clock(now, in_message) else {
            return command_deadline;
        };
        let mut wake = message.deadline.min(message.idle_until);
        if limits.min_bytes_per_second > 0 {
            wake = wake.min(message.window_start + limits.window);
        }
        wake
    }

    /// `bytes` arrived at `now`.
    pub(crate) fn received(&mut self, now: Instant, bytes: usize, in_message: bool) {
        let data_block = self.limits.data_block;
        if let Some(message) = self.message_clock(now, in_message) {
            message.window_bytes = message.window_bytes.saturating_add(bytes as u64);
            message.idle_until = now + data_block;
        }
    }

    /// Whether the client is out of time at `now`; a window that ended in time is
    /// judged and the next one begins.
    pub(crate) fn check(&mut self, now: Instant, in_message: bool) -> Option<Expired> {
        let limits = self.limits;
        let Some(message) = self.message_clock(now, in_message) else {
            return (now >= self.command_deadline).then_some(Expired::Timeout);
        };
        if now >= message.deadline {
            return Some(Expired::TooSlow);
        }
        if now >= message.idle_until {
            return Some(Expired::Timeout);
        }
        let elapsed = now.saturating_duration_since(message.window_start);
        if limits.min_bytes_per_second == 0 || elapsed < limits.window {
            return None;
        }
        if !fast_enough(message.window_bytes, elapsed, limits.min_bytes_per_second) {
            return Some(Expired::TooSlow);
        }
        message.window_start = now;
        message.window_bytes = 0;
        None
    }

    /// The clock of the message being received, started at its first sight; none (and
    /// any old one forgotten) outside a message.
    fn message_clock(&mut self, now: Instant, in_message: bool) -> Option<&mut MessagePace> {
        if !in_message {
            self.message = None;
            return None;
        }
        let limits = self.limits;
        Some(self.message.get_or_insert(MessagePace {
            deadline: now + limits.data_end,
            idle_until: now + limits.data_block,
            window_start: now,
            window_bytes: 0,
        }))
    }
}

/// `bytes` in `elapsed` is at least `min_per_second` on average.
pub(crate) fn fast_enough(bytes: u64, elapsed: Duration, min_per_second: u64) -> bool {
    let needed = u128::from(min_per_second) * elapsed.as_millis();
    u128::from(bytes) * 1000 >= needed
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn limits() -> PaceLimits {
        PaceLimits {
            command: 10 * SECOND,
            data_block: 5 * SECOND,
            data_end: 60 * SECOND,
            window: 2 * SECOND,
            min_bytes_per_second: 100,
        }
    }

    #[test]
    fn the_command_deadline_is_not_moved_by_reading() {
        let start = Instant::now();
        let mut pace = Pace::new(limits(), start);
        for second in 1..10 {
            let now = start + second * SECOND;
            pace.received(now, 1, false);
            assert_eq!(pace.check(now, false), None);
        }
        assert_eq!(pace.wake_at(start, false), start + 10 * SECOND);
        assert_eq!(
            pace.check(start + 10 * SECOND, false),
            Some(Expired::Timeout)
        );
        pace.replied(start + 10 * SECOND);
        assert_eq!(pace.check(start + 19 * SECOND, false), None);
    }

    #[test]
    fn a_slow_window_is_too_slow_and_a_fast_one_starts_the_next() {
        let start = Instant::now();
        let mut pace = Pace::new(limits(), start);
        assert_eq!(pace.wake_at(start, true), start + 2 * SECOND);
        pace.received(start + SECOND, 200, true);
        assert_eq!(pace.check(start + 2 * SECOND, true), None);
        assert_eq!(pace.wake_at(start + 2 * SECOND, true), start + 4 * SECOND);
        pace.received(start + 3 * SECOND, 199, true);
        assert_eq!(pace.check(start + 4 * SECOND, true), Some(Expired::TooSlow));
    }

    #[test]
    fn the_grace_window_is_not_judged_early() {
        let start = Instant::now();
        let mut pace = Pace::new(limits(), start);
        pace.wake_at(start, true);
        pace.received(start + SECOND, 1, true);
        assert_eq!(pace.check(start + SECOND, true), None);
    }

    #[test]
    fn the_whole_message_has_a_deadline() {
        let mut no_rate = limits();
        no_rate.min_bytes_per_second = 0;
        let start = Instant::now();
        let mut pace = Pace::new(no_rate, start);
        for second in 0..60 {
            let now = start + second * SECOND;
            pace.received(now, 1, true);
            assert_eq!(pace.check(now, true), None, "second {second}");
        }
        assert_eq!(pace.wake_at(start + 59 * SECOND, true), start + 60 * SECOND);
        assert_eq!(
            pace.check(start + 60 * SECOND, true),
            Some(Expired::TooSlow)
        );
    }

    #[test]
    fn silence_inside_a_message_is_a_timeout_and_a_new_message_a_new_clock() {
        let start = Instant::now();
        let mut pace = Pace::new(limits(), start);
        pace.wake_at(start, true);
        pace.received(start + SECOND, 1000, true);
        assert_eq!(pace.check(start + 6 * SECOND, true), Some(Expired::Timeout));
        pace.check(start + 7 * SECOND, false);
        assert_eq!(pace.check(start + 8 * SECOND, true), None);
    }

    #[test]
    fn rate_arithmetic() {
        assert!(fast_enough(1000, 2 * SECOND, 500));
        assert!(!fast_enough(999, 2 * SECOND, 500));
        assert!(fast_enough(0, Duration::ZERO, 500));
    }
}
