//! Per-destination state: how many connections may run at once to one recipient domain,
//! idle connections kept for the next message there, and the news that a destination
//! which was busy has room again.
//!
//! A delivery never waits for a busy destination: it is told so at once (the scheduler
//! sets the message aside and retries it when a slot frees), so messages for a slow
//! destination cannot fill every delivery slot and starve the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::connection::Connection;
use crate::route::Route;

/// How long an idle connection is kept for the next message to the same destination.
const IDLE_LIMIT: Duration = Duration::from_secs(5);

/// Every destination seen so far.
pub(crate) struct Destinations {
    by_key: Mutex<HashMap<String, Arc<Destination>>>,
    concurrency: usize,
    /// Told the key of each destination whose slot was released, once someone listens.
    freed: Mutex<Option<UnboundedSender<String>>>,
}

/// One destination: its connection slots and its idle connections.
pub(crate) struct Destination {
    key: String,
    permits: Semaphore,
    idle: Mutex<Vec<(u64, Connection)>>,
    next_idle_id: Mutex<u64>,
}

/// The right to run one connection to a destination; dropping it frees the slot and
/// says so.
pub(crate) struct Slot<'a> {
    _permit: SemaphorePermit<'a>,
    key: &'a str,
    freed: Option<UnboundedSender<String>>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(freed) = &self.freed {
            let _ = freed.send(self.key.to_owned());
        }
    }
}

impl Destinations {
    pub(crate) fn new(concurrency: usize) -> Self {
        Destinations {
            by_key: Mutex::new(HashMap::new()),
            concurrency: concurrency.max(1),
            freed: Mutex::new(None),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Arc<Destination> {
        let mut by_key = lock(&self.by_key);
        Arc::clone(by_key.entry(key.to_owned()).or_insert_with(|| {
            Arc::new(Destination {
                key: key.to_owned(),
                permits: Semaphore::new(self.concurrency),
                idle: Mutex::new(Vec::new()),
                next_idle_id: Mutex::new(0),
            })
        }))
    }

    /// A slot at `destination`, or `None` when all of its slots are taken.
    pub(crate) fn try_slot<'a>(&self, destination: &'a Destination) -> Option<Slot<'a>> {
        let permit = destination.permits.try_acquire().ok()?;
        Some(Slot {
            _permit: permit,
            key: &destination.key,
            freed: lock(&self.freed).clone(),
        })
    }

    /// From now on, the key of every destination whose slot is released (the scheduler
    /// listens to wake the messages waiting for it). A second call replaces the first.
    pub(crate) fn watch_freed(&self) -> UnboundedReceiver<String> {
        let (sender, receiver) = unbounded_channel();
        *lock(&self.freed) = Some(sender);
        receiver
    }
}

impl Destination {
    /// An idle connection to one of the route's hops: the route may have changed since
    /// the connection was opened (new DNS answers, a reloaded mailertable).
    pub(crate) fn take_idle(&self, route: &Route) -> Option<Connection> {
        let mut idle = lock(&self.idle);
        let on_route = |connection: &Connection| {
            route.hops.iter().any(|hop| {
                hop.port == connection.address.port()
                    && hop.addresses.contains(&connection.address.ip())
            })
        };
        let index = idle
            .iter()
            .rposition(|(_, connection)| on_route(connection))?;
        Some(idle.swap_remove(index).1)
    }

    /// Keeps a connection for the next message, or closes it when it has carried
    /// `limit` messages.
    pub(crate) fn keep_idle(self: &Arc<Self>, connection: Connection, limit: usize) {
        if connection.messages_sent >= limit {
            tokio::spawn(connection.quit());
            return;
        }
        let id = {
            let mut next = lock(&self.next_idle_id);
            *next += 1;
            *next
        };
        lock(&self.idle).push((id, connection));
        let destination = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(IDLE_LIMIT).await;
            let expired = {
                let mut idle = lock(&destination.idle);
                idle.iter()
                    .position(|(candidate, _)| *candidate == id)
                    .map(|index| idle.swap_remove(index).1)
            };
            if let Some(connection) = expired {
                connection.quit().await;
            }
        });
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_destination_says_busy_and_a_freed_slot_is_announced() {
        let destinations = Destinations::new(1);
        let mut freed = destinations.watch_freed();
        let slow = destinations.get("slow.example");
        let first = destinations.try_slot(&slow);
        assert!(first.is_some());
        assert!(destinations.try_slot(&slow).is_none(), "only one slot");
        let fast = destinations.get("fast.example");
        assert!(
            destinations.try_slot(&fast).is_some(),
            "others are not affected"
        );
        assert_eq!(freed.recv().await.as_deref(), Some("fast.example"));
        drop(first);
        assert_eq!(freed.recv().await.as_deref(), Some("slow.example"));
        assert!(destinations.try_slot(&slow).is_some());
    }
}
