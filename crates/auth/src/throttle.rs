//! The failed-AUTH throttle: after `max_failures` failed attempts from one client IP
//! within `window`, that IP's further attempts are refused (`421`) until the oldest of
//! those failures is older than the window. Time is passed in, so tests need no clock.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Past this many tracked IPs, a failure also sweeps out the ones with no recent
/// failures, so a scan from many addresses cannot grow the map without bound.
const SWEEP_ABOVE: usize = 4096;

/// Failed AUTH attempts per client IP in a sliding window; shared by all sessions.
#[derive(Debug)]
pub struct FailureThrottle {
    /// 0: never throttle.
    max_failures: u32,
    window: Duration,
    /// Per IP, the times of its most recent failures (at most `max_failures`), oldest first.
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl FailureThrottle {
    /// `max_failures` = 0 turns the throttle off.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        FailureThrottle {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `client` has used up its failures: it gets `421` instead of a try.
    pub fn is_throttled(&self, client: IpAddr, now: Instant) -> bool {
        let Some(limit) = self.limit() else {
            return false;
        };
        let failures = self.lock();
        failures.get(&client).is_some_and(|times| {
            times.len() >= limit && times.iter().all(|&time| self.is_recent(time, now))
        })
    }

    /// Counts one failed attempt from `client` at `now`.
    pub fn record_failure(&self, client: IpAddr, now: Instant) {
        let Some(limit) = self.limit() else {
            return;
        };
        let mut failures = self.lock();
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, times| times.back().is_some_and(|&t| self.is_recent(t, now)));
        }
        let times = failures.entry(client).or_default();
        times.retain(|&time| self.is_recent(time, now));
        // Only the latest `limit` failures can decide whether the client is throttled.
        while times.len() >= limit {
            times.pop_front();
        }
        times.push_back(now);
    }

    /// A successful AUTH clears `client`'s failures.
    pub fn record_success(&self, client: IpAddr) {
        self.lock().remove(&client);
    }

    fn limit(&self) -> Option<usize> {
        (self.max_failures > 0).then(|| usize::try_from(self.max_failures).unwrap_or(usize::MAX))
    }

    fn is_recent(&self, time: Instant, now: Instant) -> bool {
        now.saturating_duration_since(time) < self.window
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, VecDeque<Instant>>> {
        // The map holds only counters; after a panic elsewhere it is still usable.
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(600);

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn throttles_after_max_failures_until_the_window_passes() {
        let throttle = FailureThrottle::new(3, WINDOW);
        let start = Instant::now();
        let client = ip("192.0.2.1");
        for second in 0..3 {
            assert!(!throttle.is_throttled(client, start + Duration::from_secs(second)));
            throttle.record_failure(client, start + Duration::from_secs(second));
        }
        assert!(throttle.is_throttled(client, start + Duration::from_secs(3)));
        // The first failure (at 0 s) leaves the window at 600 s: one try is back.
        assert!(throttle.is_throttled(client, start + Duration::from_secs(599)));
        assert!(!throttle.is_throttled(client, start + WINDOW));
        // Another failure right then throttles again (failures at 1 s, 2 s, 600 s)...
        throttle.record_failure(client, start + WINDOW);
        assert!(throttle.is_throttled(client, start + WINDOW));
        // ...until the one at 1 s is out of the window.
        assert!(!throttle.is_throttled(client, start + WINDOW + Duration::from_secs(1)));
    }

    #[test]
    fn failures_spread_wider_than_the_window_never_throttle() {
        let throttle = FailureThrottle::new(2, WINDOW);
        let start = Instant::now();
        let client = ip("2001:db8::1");
        for step in 0..10 {
            let now = start + WINDOW * step;
            throttle.record_failure(client, now);
            assert!(!throttle.is_throttled(client, now), "step {step}");
        }
    }

    #[test]
    fn counts_each_ip_alone_and_success_clears() {
        let throttle = FailureThrottle::new(2, WINDOW);
        let now = Instant::now();
        let (guesser, neighbour) = (ip("198.51.100.7"), ip("198.51.100.8"));
        throttle.record_failure(guesser, now);
        throttle.record_failure(neighbour, now);
        throttle.record_failure(guesser, now);
        assert!(throttle.is_throttled(guesser, now));
        assert!(!throttle.is_throttled(neighbour, now));
        throttle.record_success(guesser);
        assert!(!throttle.is_throttled(guesser, now));
    }

    #[test]
    fn zero_max_failures_never_throttles() {
        let throttle = FailureThrottle::new(0, WINDOW);
        let now = Instant::now();
        for _ in 0..100 {
            throttle.record_failure(ip("192.0.2.1"), now);
        }
        assert!(!throttle.is_throttled(ip("192.0.2.1"), now));
    }

    #[test]
    fn many_addresses_are_swept_once_their_failures_are_old() {
        let throttle = FailureThrottle::new(5, WINDOW);
        let start = Instant::now();
        for n in 0..=SWEEP_ABOVE as u32 {
            throttle.record_failure(IpAddr::from(n.to_be_bytes()), start);
        }
        throttle.record_failure(ip("192.0.2.1"), start + WINDOW);
        assert_eq!(throttle.lock().len(), 1);
    }
}
