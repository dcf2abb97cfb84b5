//! The broken-TLS memory: destinations (host names and IP addresses) whose STARTTLS
//! failed, remembered until a time so that later deliveries go straight to plaintext
//! instead of failing the same handshake again (SPEC §4).
//!
//! The memory lives in one small text file, `<spool>/tls-memory`, so it survives
//! restarts and `posthorn tls-memory` can list and clear it while the daemon runs. Every
//! change rewrites the file atomically; every lookup stats it and re-reads it when
//! another process replaced it. It does not decide whether plaintext is allowed: the
//! caller still applies the destination's TLS policy.
//!
//! The server keeps its inbound memory in the same file: clients (by IP) whose STARTTLS
//! handshake failed, under keys `client:IP` ([`CLIENT_PREFIX`]), so that they are not
//! offered STARTTLS for a while. `forget IP` clears the outbound and the inbound entry.

mod store;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use store::{Entry, Snapshot};

/// The file name of the memory inside the spool directory.
pub const FILE_NAME: &str = "tls-memory";

/// The key prefix of inbound entries: `client:192.0.2.1` is a connecting client whose
/// STARTTLS handshake failed (as opposed to `192.0.2.1`, a server we deliver to).
pub const CLIENT_PREFIX: &str = "client:";

/// The broken-TLS memory of one spool. Clones share one snapshot, so the server and
/// the deliverer hold the same memory.
#[derive(Debug, Clone)]
pub struct TlsMemory {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    path: PathBuf,
    state: Mutex<Snapshot>,
}

/// One remembered destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// A lower-case host name without trailing dot, or an IP address as text.
    pub key: String,
    /// Until when deliveries to it skip STARTTLS.
    pub until: SystemTime,
    /// When the failure was recorded.
    pub recorded: SystemTime,
    /// Why the handshake failed, as logged at the time.
    pub reason: String,
}

impl TlsMemory {
    /// The memory kept in `path`; a missing file is an empty memory. Nothing is read
    /// until the first lookup.
    pub fn open(path: PathBuf) -> TlsMemory {
        TlsMemory {
            shared: Arc::new(Shared {
                path,
                state: Mutex::new(Snapshot::default()),
            }),
        }
    }

    /// The memory of the spool in `spool_dir` (`<spool>/tls-memory`).
    pub fn in_spool(spool_dir: &Path) -> TlsMemory {
        TlsMemory::open(spool_dir.join(FILE_NAME))
    }

    /// The file the memory lives in.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The entry (host checked first, then ip) that says TLS to this destination is
    /// broken, if any. `host` may also be an address literal (`[192.0.2.1]`).
    pub fn broken(&self, host: &str, ip: Option<IpAddr>, now: SystemTime) -> Option<Remembered> {
        let mut state = self.lock();
        state.refresh(&self.shared.path);
        let keys = [Some(normalize_key(host)), ip.map(|ip| ip.to_string())];
        keys.into_iter()
            .flatten()
            .find_map(|key| state.live(&key, now))
    }

    /// Remembers host and ip (both keys) as broken for `ttl` from now. A zero `ttl`
    /// (the memory is disabled) records nothing.
    pub fn remember(
        &self,
        host: &str,
        ip: Option<IpAddr>,
        reason: &str,
        ttl: Duration,
        now: SystemTime,
    ) -> io::Result<()> {
        if ttl.is_zero() {
            return Ok(());
        }
        let until = now.checked_add(ttl).unwrap_or(now);
        let entry = Entry::new(until, now, reason);
        let mut state = self.lock();
        state.refresh(&self.shared.path);
        let mut entries = state.entries.clone();
        let host_key = Some(normalize_key(host)).filter(|key| !key.is_empty());
        let ip_key = ip
            .map(|ip| ip.to_string())
            .filter(|key| Some(key) != host_key.as_ref());
        if let Some(key) = &host_key {
            let with = ip_key.clone();
            entries.insert(
                key.clone(),
                Entry {
                    with,
                    ..entry.clone()
                },
            );
        }
        if let Some(key) = ip_key {
            entries.insert(
                key,
                Entry {
                    with: host_key,
                    ..entry
                },
            );
        }
        state.replace(&self.shared.path, entries, now)
    }

    /// The entry saying that the client at `ip` failed its STARTTLS handshake, if any.
    pub fn broken_client(&self, ip: IpAddr, now: SystemTime) -> Option<Remembered> {
        let mut state = self.lock();
        state.refresh(&self.shared.path);
        state.live(&client_key(ip), now)
    }

    /// Remembers the client at `ip` as unable to finish a STARTTLS handshake for `ttl`
    /// from now; a zero `ttl` records nothing.
    pub fn remember_client(
        &self,
        ip: IpAddr,
        reason: &str,
        ttl: Duration,
        now: SystemTime,
    ) -> io::Result<()> {
        if ttl.is_zero() {
            return Ok(());
        }
        let until = now.checked_add(ttl).unwrap_or(now);
        let mut state = self.lock();
        state.refresh(&self.shared.path);
        let mut entries = state.entries.clone();
        entries.insert(client_key(ip), Entry::new(until, now, reason));
        state.replace(&self.shared.path, entries, now)
    }

    /// [`TlsMemory::remember`] on tokio's blocking pool: the rewrite ends in an fsync,
    /// which must not stall the async worker (and every session on it) meanwhile.
    pub async fn remember_async(
        &self,
        host: String,
        ip: Option<IpAddr>,
        reason: String,
        ttl: Duration,
        now: SystemTime,
    ) -> io::Result<()> {
        let memory = self.clone();
        blocking(move || memory.remember(&host, ip, &reason, ttl, now)).await
    }

    /// [`TlsMemory::remember_client`] on tokio's blocking pool, for the same reason.
    pub async fn remember_client_async(
        &self,
        ip: IpAddr,
        reason: String,
        ttl: Duration,
        now: SystemTime,
    ) -> io::Result<()> {
        let memory = self.clone();
        blocking(move || memory.remember_client(ip, &reason, ttl, now)).await
    }

    /// Every entry still in force at `now`, ordered by key.
    pub fn list(&self, now: SystemTime) -> Vec<Remembered> {
        let mut state = self.lock();
        state.refresh(&self.shared.path);
        state
            .entries
            .iter()
            .filter(|(_, entry)| entry.until > now)
            .map(|(key, entry)| entry.remembered(key))
            .collect()
    }

    /// Forgets one key (host or IP text) together with the key remembered with it by the
    /// same failure (a host and the address it had), or everything with `None`; how many
    /// entries still in force went. Accepts `MX.Example.COM.`, `[192.0.2.1]` and
    /// `IPv6:2001:db8::1`.
    pub fn forget(&self, key: Option<&str>) -> io::Result<usize> {
        let now = SystemTime::now();
        let mut state = self.lock();
        state.refresh(&self.shared.path);
        let mut entries = state.entries.clone();
        let removed: Vec<Entry> = match key {
            Some(key) => {
                let key = normalize_key(key);
                let linked = entries.get(&key).and_then(|entry| entry.with.clone());
                let mut removed: Vec<Entry> = entries.remove(&key).into_iter().collect();
                if let Ok(ip) = key.parse::<IpAddr>() {
                    removed.extend(entries.remove(&client_key(ip)));
                }
                let partners: Vec<String> = entries
                    .iter()
                    .filter(|(other, entry)| {
                        Some(other.as_str()) == linked.as_deref()
                            || entry.with.as_deref() == Some(key.as_str())
                    })
                    .map(|(other, _)| other.clone())
                    .collect();
                removed.extend(partners.iter().filter_map(|other| entries.remove(other)));
                removed
            }
            None => std::mem::take(&mut entries).into_values().collect(),
        };
        if removed.is_empty() {
            return Ok(0);
        }
        state.replace(&self.shared.path, entries, now)?;
        Ok(removed.iter().filter(|entry| entry.until > now).count())
    }

    /// The snapshot; a panic in another thread cannot leave it half-changed (changes
    /// are built on a copy and swapped in), so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, Snapshot> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs a file update on tokio's blocking pool.
async fn blocking(update: impl FnOnce() -> io::Result<()> + Send + 'static) -> io::Result<()> {
    tokio::task::spawn_blocking(update)
        .await
        .unwrap_or_else(|join| Err(io::Error::other(join)))
}

/// The key a connecting client is remembered under (`client:192.0.2.1`).
pub fn client_key(ip: IpAddr) -> String {
    format!("{CLIENT_PREFIX}{ip}")
}

/// The key a host name is remembered under: lower case, without the trailing dot.
pub fn host_key(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The key for text a user typed: an IP address in its canonical form (also written
/// `[ip]` or `IPv6:ip`), an inbound `client:IP` with the address made canonical, else a
/// host name as [`host_key`] has it.
pub fn normalize_key(text: &str) -> String {
    let trimmed = text.trim();
    if let Some(client) = strip_client_prefix(trimmed) {
        return match normalize_key(client).parse::<IpAddr>() {
            Ok(ip) => client_key(ip),
            Err(_) => host_key(trimmed),
        };
    }
    let bare = trimmed
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(trimmed);
    let bare = strip_ipv6_tag(bare).unwrap_or(bare);
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => host_key(trimmed),
    }
}

fn strip_client_prefix(text: &str) -> Option<&str> {
    let (prefix, rest) = text.split_at_checked(CLIENT_PREFIX.len())?;
    prefix.eq_ignore_ascii_case(CLIENT_PREFIX).then_some(rest)
}

fn strip_ipv6_tag(text: &str) -> Option<&str> {
    let (tag, rest) = text.split_at_checked(5)?;
    tag.eq_ignore_ascii_case("IPv6:").then_some(rest)
}

impl Remembered {
    /// The client address of an inbound entry (`client:IP`); `None` for a destination.
    pub fn client(&self) -> Option<&str> {
        self.key.strip_prefix(CLIENT_PREFIX)
    }
}

impl Entry {
    fn remembered(&self, key: &str) -> Remembered {
        Remembered {
            key: key.to_owned(),
            until: self.until,
            recorded: self.recorded,
            reason: self.reason.clone(),
        }
    }
}

impl Snapshot {
    fn live(&self, key: &str, now: SystemTime) -> Option<Remembered> {
        self.entries
            .get(key)
            .filter(|entry| entry.until > now)
            .map(|entry| entry.remembered(key))
    }

    /// Writes `entries` (less those expired at `now`) and makes them the snapshot.
    fn replace(
        &mut self,
        path: &Path,
        mut entries: BTreeMap<String, Entry>,
        now: SystemTime,
    ) -> io::Result<()> {
        entries.retain(|_, entry| entry.until > now);
        let stamp = store::write_atomically(path, &entries)?;
        self.entries = entries;
        self.stamp = stamp;
        Ok(())
    }
}

#[cfg(test)]
mod inbound_tests {
    use std::net::IpAddr;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// A fresh directory per test (removed when dropped) and the memory in it.
    struct Scratch(PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn scratch(name: &str) -> (Scratch, TlsMemory) {
        let dir = std::env::temp_dir().join(format!(
            "posthorn-inbound-memory-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let memory = TlsMemory::in_spool(&dir);
        (Scratch(dir), memory)
    }

    #[test]
    fn a_client_is_remembered_apart_from_a_destination_with_its_address() {
        let (dir, memory) = scratch("remembered");
        let now = at(1_700_000_000);
        memory
            .remember_client(ip("192.0.2.1"), "handshake timed out", DAY, now)
            .unwrap();
        let entry = memory.broken_client(ip("192.0.2.1"), now).unwrap();
        assert_eq!(entry.key, "client:192.0.2.1");
        assert_eq!(entry.client(), Some("192.0.2.1"));
        assert_eq!(entry.until, at(1_700_000_000 + 86_400));
        assert_eq!(entry.reason, "handshake timed out");
        // Outbound deliveries to that address still try STARTTLS.
        assert_eq!(memory.broken("192.0.2.1", Some(ip("192.0.2.1")), now), None);
        assert_eq!(memory.broken_client(ip("192.0.2.2"), now), None);
        assert_eq!(
            memory.broken_client(ip("192.0.2.1"), at(1_800_000_000)),
            None
        );
        // A restart reads it back.
        let reopened = TlsMemory::in_spool(&dir.0);
        assert_eq!(reopened.list(now), vec![entry]);
    }

    #[test]
    fn a_zero_ttl_remembers_no_client() {
        let (_dir, memory) = scratch("zero");
        let now = at(1_700_000_000);
        memory
            .remember_client(ip("::1"), "eof", Duration::ZERO, now)
            .unwrap();
        assert_eq!(memory.broken_client(ip("::1"), now), None);
        assert!(!memory.path().exists());
    }

    #[test]
    fn forgetting_an_address_forgets_its_client_entry_too() {
        let (_dir, memory) = scratch("forget");
        let now = SystemTime::now();
        memory
            .remember_client(ip("2001:db8::1"), "eof", DAY, now)
            .unwrap();
        memory
            .remember("mx.example", Some(ip("2001:db8::1")), "eof", DAY, now)
            .unwrap();
        memory
            .remember_client(ip("192.0.2.9"), "eof", DAY, now)
            .unwrap();
        assert_eq!(memory.forget(Some("[IPv6:2001:DB8::1]")).unwrap(), 3);
        assert_eq!(memory.forget(Some("Client:192.0.2.9")).unwrap(), 1);
        assert!(memory.list(now).is_empty());
    }

    #[test]
    fn client_keys_are_normalised() {
        assert_eq!(normalize_key("CLIENT:2001:DB8::0:1"), "client:2001:db8::1");
        assert_eq!(normalize_key("client:[192.0.2.1]"), "client:192.0.2.1");
        assert_eq!(normalize_key("client:not-an-ip"), "client:not-an-ip");
        assert_eq!(client_key(ip("192.0.2.1")), "client:192.0.2.1");
    }
}
