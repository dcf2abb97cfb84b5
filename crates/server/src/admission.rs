//! Who may open a session: the concurrent-session cap and the per-client connection rate
//! (sendmail's `MaxDaemonChildren` and `ConnectionRateThrottle`, Postfix's
//! `smtpd_client_connection_rate_limit`).
//!
//! The last 0.5% of a large session cap (200 or more) is kept for clients that hold no
//! session yet: one address flooding the server with idle connections fills the cap but
//! cannot lock every other sender out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    TooManySessions,
    RateExceeded,
}

/// Session slots and per-client connection counts.
pub(crate) struct Admission {
    sessions: Arc<Semaphore>,
    session_limit: usize,
    /// Slots only a client without a session may take.
    reserve: usize,
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, Window>>,
    holding: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// An admitted session; its slot is given back when this is dropped.
pub(crate) struct SessionSlot {
    _permit: OwnedSemaphorePermit,
    client: IpAddr,
    holding: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        let mut holding = lock(&self.holding);
        if let Some(count) = holding.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                holding.remove(&self.client);
            }
        }
    }
}

/// Connections counted for one client in the current minute and the one before, so the
/// limit slides instead of resetting all at once.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    current: u32,
    previous: u32,
}

impl Admission {
    pub(crate) fn new(session_limit: usize, per_minute: u32) -> Self {
        Admission {
            sessions: Arc::new(Semaphore::new(session_limit)),
            session_limit,
            reserve: session_limit / 200,
            per_minute,
            windows: Mutex::new(HashMap::new()),
            holding: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Takes a session slot for `client`, or says why not. The slot is released when the
    /// returned [`SessionSlot`] is dropped.
    pub(crate) fn admit(&self, client: IpAddr, now: Instant) -> Result<SessionSlot, Refusal> {
        if !self.within_rate(client, now) {
            return Err(Refusal::RateExceeded);
        }
        let mut holding = lock(&self.holding);
        let held = holding.get(&client).copied().unwrap_or(0);
        if held > 0 && self.sessions.available_permits() <= self.reserve {
            return Err(Refusal::TooManySessions);
        }
        let permit = Arc::clone(&self.sessions)
            .try_acquire_owned()
            .map_err(|_| Refusal::TooManySessions)?;
        *holding.entry(client).or_insert(0) += 1;
        Ok(SessionSlot {
            _permit: permit,
            client,
            holding: Arc::clone(&self.holding),
        })
    }

    /// Sessions currently open.
    pub(crate) fn active(&self) -> usize {
        self.session_limit - self.sessions.available_permits()
    }

    fn within_rate(&self, client: IpAddr, now: Instant) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let mut windows = lock(&self.windows);
        if windows.len() > 10_000 {
            windows.retain(|_, window| now.duration_since(window.start) < 2 * RATE_WINDOW);
        }
        let window = windows.entry(client).or_insert(Window {
            start: now,
            current: 0,
            previous: 0,
        });
        let elapsed = now.duration_since(window.start);
        if elapsed >= 2 * RATE_WINDOW {
            *window = Window {
                start: now,
                current: 0,
                previous: 0,
            };
        } else if elapsed >= RATE_WINDOW {
            *window = Window {
                start: window.start + RATE_WINDOW,
                current: 0,
                previous: window.current,
            };
        }
        let into_window =
            now.duration_since(window.start).as_secs_f64() / RATE_WINDOW.as_secs_f64();
        let estimate = f64::from(window.previous) * (1.0 - into_window) + f64::from(window.current);
        if estimate >= f64::from(self.per_minute) {
            return false;
        }
        window.current += 1;
        true
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cap_refuses_the_one_over_and_frees_slots() {
        let admission = Admission::new(2, 0);
        let client: IpAddr = [127, 0, 0, 1].into();
        let now = Instant::now();
        let first = admission.admit(client, now).expect("first");
        let _second = admission.admit(client, now).expect("second");
        assert_eq!(
            admission.admit(client, now).err(),
            Some(Refusal::TooManySessions)
        );
        drop(first);
        assert!(admission.admit(client, now).is_ok());
    }

    #[test]
    fn the_last_slots_of_a_large_cap_are_kept_for_other_clients() {
        let admission = Admission::new(400, 0);
        let flooder: IpAddr = [192, 0, 2, 1].into();
        let now = Instant::now();
        let mut held = Vec::new();
        while let Ok(slot) = admission.admit(flooder, now) {
            held.push(slot);
        }
        assert_eq!(held.len(), 398, "one client fills all but the reserve");
        let others: Vec<_> = (2..=3)
            .map(|last| {
                admission
                    .admit([192, 0, 2, last].into(), now)
                    .expect("reserve")
            })
            .collect();
        assert_eq!(
            admission.admit([192, 0, 2, 9].into(), now).err(),
            Some(Refusal::TooManySessions),
            "the cap itself still holds"
        );
        drop(others);
        drop(held.pop());
        assert!(
            admission.admit(flooder, now).is_ok(),
            "a freed slot is reused"
        );
    }

    #[test]
    fn rate_limit_is_per_client_and_slides() {
        let admission = Admission::new(100, 3);
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let start = Instant::now();
        let mut permits = Vec::new();
        for _ in 0..3 {
            permits.push(admission.admit(a, start).expect("within rate"));
        }
        assert_eq!(admission.admit(a, start).err(), Some(Refusal::RateExceeded));
        assert!(
            admission.admit(b, start).is_ok(),
            "another client is not affected"
        );
        // Half a minute into the next window, half of the previous minute still counts:
        // 1.5 of 3 used, so one more fits, a second (2.5 + 1 > 3) does not.
        let later = start + RATE_WINDOW + RATE_WINDOW / 2;
        assert!(admission.admit(a, later).is_ok());
        assert!(admission.admit(a, later).is_ok());
        assert_eq!(admission.admit(a, later).err(), Some(Refusal::RateExceeded));
        // Two minutes later the client starts fresh.
        assert!(admission.admit(a, start + 3 * RATE_WINDOW).is_ok());
    }
}
