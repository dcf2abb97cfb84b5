//! Which message a free session sends next, and when.
//!
//! Sessions claim message numbers from one counter. In closed-loop mode a message is due
//! at once; with `--rate` the schedule is fixed in advance (message `i` is due at
//! `start + i / rate`), so a slow server makes messages start late rather than
//! silently lowering the offered load. A session only claims when it is free, so how
//! late a claim is tells how far behind the schedule the run fell.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The shared message counter and, with a rate, the timetable.
#[derive(Debug)]
pub struct Schedule {
    next: AtomicU64,
    total: u64,
    start: Instant,
    /// Messages per second overall; `None` is closed loop.
    rate: Option<f64>,
}

/// One message to send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Claim {
    pub index: u64,
    /// When the message is due; `None` means now.
    pub due: Option<Instant>,
}

impl Schedule {
    pub fn new(total: u64, rate: Option<f64>, start: Instant) -> Self {
        Schedule {
            next: AtomicU64::new(0),
            total,
            start,
            rate,
        }
    }

    /// The next unsent message, or `None` when all have been claimed.
    pub fn claim(&self) -> Option<Claim> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        if index >= self.total {
            return None;
        }
        let due = self
            .rate
            .map(|rate| self.start + Duration::from_secs_f64(index as f64 / rate));
        Some(Claim { index, due })
    }

    /// Messages never claimed (the sessions gave up before the end).
    pub fn unclaimed(&self) -> u64 {
        self.total
            .saturating_sub(self.next.load(Ordering::Relaxed).min(self.total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_spreads_due_times_evenly_from_the_start() {
        let start = Instant::now();
        let schedule = Schedule::new(3, Some(100.0), start);
        let dues: Vec<_> = std::iter::from_fn(|| schedule.claim())
            .map(|claim| claim.due.map(|due| due - start))
            .collect();
        assert_eq!(dues, [0, 10, 20].map(|ms| Some(Duration::from_millis(ms))));
        assert_eq!(schedule.unclaimed(), 0);
    }

    #[test]
    fn closed_loop_claims_are_due_now_until_exhausted() {
        let schedule = Schedule::new(2, None, Instant::now());
        assert_eq!(schedule.claim().map(|claim| claim.index), Some(0));
        assert_eq!(schedule.unclaimed(), 1);
        assert_eq!(schedule.claim().map(|claim| claim.due), Some(None));
        assert_eq!(schedule.claim(), None);
        assert_eq!(schedule.unclaimed(), 0);
    }
}
