//! Flow control between arrivals and deliveries (Postfix's `in_flow_delay`).
//!
//! The scheduler counts the new messages that have not yet had a delivery
//! attempt (one that reached the destination: a busy destination does not
//! count). While that backlog is at its limit, the server pauses before taking
//! the next message, up to `queue.in_flow_delay`: senders slow to the rate at
//! which mail leaves, the queue and the spool's spare files stay small, and no
//! message is refused for it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// A shared handle; clones count the same backlog.
#[derive(Debug, Clone)]
pub struct Backlog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    waiting: AtomicUsize,
    limit: usize,
    freed: Notify,
}

impl Backlog {
    /// `limit`: arrivals pause while this many new messages wait for delivery.
    pub fn new(limit: usize) -> Self {
        Backlog {
            inner: Arc::new(Inner {
                waiting: AtomicUsize::new(0),
                limit: limit.max(1),
                freed: Notify::new(),
            }),
        }
    }

    /// New messages waiting for their first attempt.
    pub fn len(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A new message joined the queue (by the scheduler).
    pub(crate) fn arrived(&self) {
        self.inner.waiting.fetch_add(1, Ordering::Relaxed);
    }

    /// A new message had its first attempt (by the scheduler): one paused
    /// arrival may go on.
    pub(crate) fn attempted(&self) {
        let decremented =
            self.inner
                .waiting
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        if decremented.is_ok() {
            self.inner.freed.notify_one();
        }
    }

    /// Waits until the backlog is under its limit, or `at_most` has passed. How
    /// long it waited.
    pub async fn pause(&self, at_most: Duration) -> Duration {
        let started = Instant::now();
        let deadline = started + at_most;
        while self.len() >= self.inner.limit {
            let freed = self.inner.freed.notified();
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                break;
            }
        }
        started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn under_the_limit_there_is_no_pause() {
        let backlog = Backlog::new(2);
        backlog.arrived();
        assert_eq!(backlog.pause(Duration::from_secs(1)).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_limit_an_arrival_waits_at_most_the_delay() {
        let backlog = Backlog::new(2);
        backlog.arrived();
        backlog.arrived();
        let waited = backlog.pause(Duration::from_secs(1)).await;
        assert_eq!(waited, Duration::from_secs(1));
        assert_eq!(backlog.len(), 2, "nothing was refused or dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_lets_a_paused_arrival_go_on() {
        let backlog = Backlog::new(1);
        backlog.arrived();
        let scheduler = backlog.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            scheduler.attempted();
        });
        let waited = backlog.pause(Duration::from_secs(1)).await;
        assert_eq!(waited, Duration::from_millis(300));
        assert!(backlog.is_empty());
    }

    #[test]
    fn the_count_never_goes_below_zero() {
        let backlog = Backlog::new(1);
        backlog.attempted();
        assert_eq!(backlog.len(), 0);
    }
}
