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

/// Files larger than this are unlinked rather than kept: a pool of large spares
/// would hold disk space that the free-space check cannot see.
pub(crate) const MAX_SPARE_BYTES: u64 = 256 * 1024;

/// The spares ready for reuse, at most `capacity` of them.
#[derive(Debug)]
pub(crate) struct SparePool {
    capacity: usize,
    files: Mutex<Vec<PathBuf>>,
}

impl SparePool {
    pub(crate) fn new(capacity: usize) -> Self {
        SparePool {
            capacity,
            files: Mutex::new(Vec::with_capacity(capacity)),
        }
    }

    /// Whether one more spare would be kept.
    pub(crate) fn has_room(&self) -> bool {
        self.len() < self.capacity
    }

    /// Keeps `path` for reuse; gives it back when the pool is full.
    pub(crate) fn put(&self, path: PathBuf) -> Result<(), PathBuf> {
        let mut files = self.lock();
        if files.len() >= self.capacity {
            return Err(path);
        }
        files.push(path);
        Ok(())
    }

    /// A spare to write a new message over, if there is one.
    pub(crate) fn take(&self) -> Option<PathBuf> {
        self.lock().pop()
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PathBuf>> {
        // A panic while holding this lock cannot leave the Vec inconsistent.
        self.files
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
        let pool = SparePool::new(2);
        assert!(pool.put(PathBuf::from("a")).is_ok());
        assert!(pool.put(PathBuf::from("b")).is_ok());
        assert!(!pool.has_room());
        assert_eq!(pool.put(PathBuf::from("c")), Err(PathBuf::from("c")));
        assert_eq!(pool.take(), Some(PathBuf::from("b")));
        assert_eq!(pool.take(), Some(PathBuf::from("a")));
        assert_eq!(pool.take(), None);
    }

    #[test]
    fn a_pool_of_capacity_zero_keeps_nothing() {
        let pool = SparePool::new(0);
        assert!(!pool.has_room());
        assert!(pool.put(PathBuf::from("a")).is_err());
    }

    #[test]
    fn spare_names_are_recognised() {
        let path = spare_path(Path::new("/s/incoming"), "kAL2BZNH03bB01");
        assert_eq!(path, Path::new("/s/incoming/kAL2BZNH03bB01.spare"));
        assert!(is_spare(&path));
        assert!(!is_spare(Path::new("/s/incoming/kAL2BZNH03bB01")));
    }
}
