//! Spare files: the files of finished messages, kept to be written over by new
//! ones, so that steady traffic does not allocate and free an inode per message.
//!
//! Why: on ext4 an inode allocation skips every recently freed inode, and at a
//! few thousand messages a second creating files became half of the daemon's CPU
//! time (see bench/README.md). So a finished message's file is renamed from
//! `queue/ID` to `incoming/ID.spare` instead of being unlinked, and a new message
//! is written over a spare from its first byte and cut to its own length before
//! its commit: nothing of the old message survives in the new one. A spare is an
//! `incoming/` file like any other to recovery, which takes it back into the pool.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The name suffix that marks a spare in `incoming/`.
pub(crate) const SPARE_SUFFIX: &str = ".spare";

/// Files larger than this are unlinked rather than kept: writing a small
/// message over a large file frees most of it anyway.
pub(crate) const MAX_SPARE_BYTES: u64 = 256 * 1024;

/// The spares ready for reuse: at most `capacity` files of `byte_budget` bytes
/// in all, so the pool never holds much disk space.
#[derive(Debug)]
pub(crate) struct SparePool {
    capacity: usize,
    byte_budget: u64,
    state: Mutex<Pooled>,
}

#[derive(Debug, Default)]
struct Pooled {
    files: Vec<(PathBuf, u64)>,
    bytes: u64,
}

impl SparePool {
    pub(crate) fn new(capacity: usize, byte_budget: u64) -> Self {
        SparePool {
            capacity,
            byte_budget,
            state: Mutex::new(Pooled::default()),
        }
    }

    /// Whether a spare of `size` bytes would be kept.
    pub(crate) fn has_room_for(&self, size: u64) -> bool {
        let state = self.lock();
        state.files.len() < self.capacity && state.bytes + size <= self.byte_budget
    }

    /// Keeps `path` (of `size` bytes) for reuse; gives it back when full.
    pub(crate) fn put(&self, path: PathBuf, size: u64) -> Result<(), PathBuf> {
        let mut state = self.lock();
        if state.files.len() >= self.capacity || state.bytes + size > self.byte_budget {
            return Err(path);
        }
        state.bytes += size;
        state.files.push((path, size));
        Ok(())
    }

    /// A spare to write a new message over, and its length, if there is one.
    pub(crate) fn take(&self) -> Option<(PathBuf, u64)> {
        let mut state = self.lock();
        let (path, size) = state.files.pop()?;
        state.bytes -= size;
        Some((path, size))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pooled> {
        // A panic while holding this lock cannot leave the pool inconsistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `incoming/ID.spare` for the message file of `id`.
pub(crate) fn spare_path(incoming: &Path, id: &str) -> PathBuf {
    incoming.join(format!("{id}{SPARE_SUFFIX}"))
}

pub(crate) fn is_spare(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.ends_with(SPARE_SUFFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_its_capacity_and_hands_them_out() {
        let pool = SparePool::new(2, 1000);
        assert!(pool.put(PathBuf::from("a"), 10).is_ok());
        assert!(pool.put(PathBuf::from("b"), 10).is_ok());
        assert!(!pool.has_room_for(1));
        assert_eq!(pool.put(PathBuf::from("c"), 1), Err(PathBuf::from("c")));
        assert_eq!(pool.take(), Some((PathBuf::from("b"), 10)));
        assert_eq!(pool.take(), Some((PathBuf::from("a"), 10)));
        assert_eq!(pool.take(), None);
    }

    #[test]
    fn keeps_at_most_its_byte_budget() {
        let pool = SparePool::new(10, 100);
        assert!(pool.put(PathBuf::from("a"), 60).is_ok());
        assert!(!pool.has_room_for(41));
        assert!(pool.has_room_for(40));
        assert!(pool.put(PathBuf::from("b"), 41).is_err());
        assert_eq!(pool.take(), Some((PathBuf::from("a"), 60)));
        assert!(
            pool.put(PathBuf::from("b"), 100).is_ok(),
            "taking gave the bytes back"
        );
    }

    #[test]
    fn a_pool_of_capacity_zero_keeps_nothing() {
        let pool = SparePool::new(0, 1000);
        assert!(!pool.has_room_for(0));
        assert!(pool.put(PathBuf::from("a"), 0).is_err());
    }

    #[test]
    fn spare_names_are_recognised() {
        let path = spare_path(Path::new("/s/incoming"), "kAL2BZNH03bB01");
        assert_eq!(path, Path::new("/s/incoming/kAL2BZNH03bB01.spare"));
        assert!(is_spare(&path));
        assert!(!is_spare(Path::new("/s/incoming/kAL2BZNH03bB01")));
    }
}
