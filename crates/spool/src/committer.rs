//! The group committer: one thread that makes batches of spool changes durable
//! with as few syncs as possible.
//!
//! Each batch is every request waiting in the channel. Its order is fixed, and is
//! what makes an acknowledgement safe:
//! 1. file data: `fdatasync` for one file, one `syncfs` for more (falling back to
//!    `fdatasync` of each file when `syncfs` fails, which also pins an error on
//!    the file that caused it);
//! 2. directory changes: `rename incoming/FILE -> queue/ID` for commits; for
//!    deletes `rename queue/ID -> incoming/ID.spare` while the spare pool has
//!    room, else `unlink`;
//! 3. one `fsync` of `queue/` if a commit or a durable delete changed an entry.
//!    Removals of finished messages ([`Removal::Lazy`]) do not ask for one: they
//!    reach the disk with the next batch that syncs `queue/` anyway, and a batch
//!    syncs for them once [`LAZY_REMOVALS_BEFORE_SYNC`] are waiting;
//! 4. spares join the pool once their removal from `queue/` is durable, never
//!    before: a spare is written over by a new message, and a crash must not
//!    find that data under the old message's name; every waiter gets its answer.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use rustix::io::Errno;
use tokio::sync::oneshot;

use crate::envelope::QueuedMessage;
use crate::error::SpoolError;
use crate::id::QueueId;
use crate::spares::{spare_path, SparePool, MAX_SPARE_BYTES};

/// One change for the committer, with the channel its answer goes to.
pub(crate) enum Request {
    /// A complete file in `incoming/` (BodyEnd written) to move into `queue/ID`.
    Commit {
        /// Where the file is now: `incoming/ID`, or a spare's name.
        path: PathBuf,
        file: File,
        /// Boxed: it is by far the largest request.
        message: Box<QueuedMessage>,
        reply: oneshot::Sender<Result<QueuedMessage, SpoolError>>,
    },
    /// Records already appended to `queue/ID` that must reach the disk.
    Sync {
        id: QueueId,
        file: File,
        reply: oneshot::Sender<Result<(), SpoolError>>,
    },
    /// Remove `queue/ID`.
    Delete {
        id: QueueId,
        removal: Removal,
        reply: oneshot::Sender<Result<(), SpoolError>>,
    },
}

/// Whether a delete is answered only once it is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removal {
    /// On disk before the answer: the operator's `queue delete` must stay done.
    Durable,
    /// Out of `queue/` before the answer, on disk with the next sync of `queue/`:
    /// a message the queue is done with. A power loss before then brings it back
    /// and it is delivered again, as after any remote `250` not yet recorded.
    Lazy,
}

/// Lazy removals that may wait for a sync of `queue/`; their spares wait with
/// them, so this also bounds the files held back from the pool.
pub const LAZY_REMOVALS_BEFORE_SYNC: usize = 64;

/// How the committer has been batching, for tests and for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitStats {
    pub batches: u64,
    pub requests: u64,
    /// The most requests handled in one batch.
    pub largest_batch: u64,
    /// Successful `fsync`s of `queue/`.
    pub directory_syncs: u64,
}

#[derive(Debug, Default)]
pub(crate) struct StatsCounters {
    batches: AtomicU64,
    requests: AtomicU64,
    largest_batch: AtomicU64,
    directory_syncs: AtomicU64,
}

impl StatsCounters {
    pub(crate) fn snapshot(&self) -> CommitStats {
        CommitStats {
            batches: self.batches.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            largest_batch: self.largest_batch.load(Ordering::Relaxed),
            directory_syncs: self.directory_syncs.load(Ordering::Relaxed),
        }
    }

    fn record(&self, batch_len: usize) {
        let batch_len = batch_len as u64;
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(batch_len, Ordering::Relaxed);
        self.largest_batch.fetch_max(batch_len, Ordering::Relaxed);
    }
}

/// The committer thread's state.
pub(crate) struct Committer {
    pub(crate) incoming: PathBuf,
    pub(crate) queue: PathBuf,
    /// `queue/` itself: fsynced after renames and unlinks, and the fd for `syncfs`.
    pub(crate) queue_dir: File,
    pub(crate) stats: Arc<StatsCounters>,
    pub(crate) spares: Arc<SparePool>,
    /// Lazy removals done since the last sync of `queue/`, and their spares.
    pub(crate) unsynced_removals: usize,
    pub(crate) unsynced_spares: Vec<(PathBuf, u64)>,
}

/// A request on its way through one batch.
struct Item {
    request: Request,
    outcome: Result<(), SpoolError>,
    /// Set once this item's rename or unlink happened.
    changed_directory: bool,
    /// A deleted message's file and its size, renamed into `incoming/` to be reused.
    spare: Option<(PathBuf, u64)>,
}

impl Committer {
    /// Runs until every sender (every `Spool` clone and writer) is gone.
    pub(crate) fn run(mut self, requests: Receiver<Request>) {
        while let Ok(first) = requests.recv() {
            let mut batch = vec![first];
            batch.extend(requests.try_iter());
            self.stats.record(batch.len());
            self.commit_batch(batch);
        }
    }

    fn commit_batch(&mut self, batch: Vec<Request>) {
        let mut items: Vec<Item> = batch
            .into_iter()
            .map(|request| Item {
                request,
                outcome: Ok(()),
                changed_directory: false,
                spare: None,
            })
            .collect();
        self.sync_file_data(&mut items);
        for item in &mut items {
            self.change_directory(item);
        }
        let lazy = items
            .iter()
            .filter(|item| item.changed_directory && is_lazy_removal(item))
            .count();
        self.unsynced_removals += lazy;
        let must_sync = items
            .iter()
            .any(|item| item.changed_directory && !is_lazy_removal(item));
        let synced = (must_sync
            || (lazy > 0 && self.unsynced_removals >= LAZY_REMOVALS_BEFORE_SYNC))
            && self.sync_queue_directory(&mut items);
        for item in items {
            self.keep_spare(&item, synced);
            self.answer(item);
        }
    }

    /// One `fsync` of `queue/`; true when it worked. Its failure fails every
    /// change that waited for it; lazy removals keep their answer (they are out of
    /// `queue/`) and their spares wait for a sync that works.
    fn sync_queue_directory(&mut self, items: &mut [Item]) -> bool {
        match rustix::fs::fsync(&self.queue_dir) {
            Ok(()) => {
                self.stats.directory_syncs.fetch_add(1, Ordering::Relaxed);
                self.unsynced_removals = 0;
                for (spare, size) in std::mem::take(&mut self.unsynced_spares) {
                    self.pool_spare(spare, size);
                }
                true
            }
            Err(errno) => {
                for item in items.iter_mut() {
                    if item.changed_directory && !is_lazy_removal(item) {
                        item.outcome = Err(SpoolError::errno("fsync", &self.queue, errno));
                    }
                }
                false
            }
        }
    }

    /// Pools the spare of a removal that is durable (`queue/` was `synced` after
    /// it) and holds back one that is not yet; a spare the pool has no room for
    /// is unlinked.
    fn keep_spare(&mut self, item: &Item, synced: bool) {
        if let (Some((spare, size)), Ok(())) = (&item.spare, &item.outcome) {
            if synced {
                self.pool_spare(spare.clone(), *size);
            } else {
                self.unsynced_spares.push((spare.clone(), *size));
            }
        }
    }

    fn pool_spare(&self, spare: PathBuf, size: u64) {
        if let Err(unwanted) = self.spares.put(spare, size) {
            let _ = fs::remove_file(unwanted);
        }
    }

    fn sync_file_data(&self, items: &mut [Item]) {
        let with_files: Vec<usize> = (0..items.len())
            .filter(|&index| file_of(&items[index].request).is_some())
            .collect();
        if with_files.len() > 1 && rustix::fs::syncfs(&self.queue_dir).is_ok() {
            return;
        }
        for index in with_files {
            let item = &mut items[index];
            if let Some(file) = file_of(&item.request) {
                if let Err(errno) = rustix::fs::fdatasync(file) {
                    let path = self.path_of(&item.request);
                    item.outcome = Err(SpoolError::errno("fdatasync", &path, errno));
                }
            }
        }
    }

    /// Renames a synced commit into `queue/`, or unlinks a deleted message.
    fn change_directory(&self, item: &mut Item) {
        if item.outcome.is_err() {
            return;
        }
        let result = match &item.request {
            Request::Commit { path, message, .. } => {
                let to = self.queue.join(message.id.as_ref());
                rename_no_replace(path, &to)
                    .map_err(|errno| SpoolError::errno("rename", path, errno))
            }
            Request::Delete { id, .. } => self.remove(id, &mut item.spare),
            Request::Sync { .. } => return,
        };
        item.changed_directory = result.is_ok();
        item.outcome = result;
    }

    /// Takes `queue/ID` out of the queue: renamed to a spare (set in `spare`)
    /// when the pool has room and the file is small, else unlinked.
    fn remove(&self, id: &QueueId, spare: &mut Option<(PathBuf, u64)>) -> Result<(), SpoolError> {
        let path = self.queue.join(id.as_ref());
        let not_found = |error: std::io::Error, operation| match error.raw_os_error() {
            Some(libc::ENOENT) => SpoolError::NotFound(id.clone()),
            _ => SpoolError::io(operation, &path, error),
        };
        let size = fs::metadata(&path).map_or(u64::MAX, |meta| meta.len());
        if size <= MAX_SPARE_BYTES && self.spares.has_room_for(size) {
            let to = spare_path(&self.incoming, id.as_ref());
            if fs::rename(&path, &to).is_ok() {
                *spare = Some((to, size));
                return Ok(());
            }
        }
        fs::remove_file(&path).map_err(|error| not_found(error, "unlink"))
    }

    fn answer(&self, item: Item) {
        // A waiter that went away (dropped its future) needs no answer.
        match item.request {
            Request::Commit {
                path,
                file,
                message,
                reply,
            } => {
                // Close (and so unlock) the file before the answer: whoever hears
                // "committed" must not find it still locked as in progress.
                drop(file);
                let outcome = match item.outcome {
                    Ok(()) => Ok(*message),
                    Err(error) => {
                        self.discard_failed_commit(&path, &message.id, item.changed_directory);
                        Err(error)
                    }
                };
                let _ = reply.send(outcome);
            }
            Request::Sync { reply, .. } | Request::Delete { reply, .. } => {
                let _ = reply.send(item.outcome);
            }
        }
    }

    /// A commit that was not answered Ok must never be delivered: remove its file
    /// wherever it got to. Best effort; recovery removes `incoming/` leftovers.
    fn discard_failed_commit(&self, incoming: &Path, id: &QueueId, renamed: bool) {
        let path = if renamed {
            self.queue.join(id.as_ref())
        } else {
            incoming.to_path_buf()
        };
        let _ = fs::remove_file(path);
        if renamed {
            let _ = rustix::fs::fsync(&self.queue_dir);
        }
    }

    fn path_of(&self, request: &Request) -> PathBuf {
        match request {
            Request::Commit { path, .. } => path.clone(),
            Request::Sync { id, .. } | Request::Delete { id, .. } => self.queue.join(id.as_ref()),
        }
    }
}

fn is_lazy_removal(item: &Item) -> bool {
    matches!(
        item.request,
        Request::Delete {
            removal: Removal::Lazy,
            ..
        }
    )
}

fn file_of(request: &Request) -> Option<&File> {
    match request {
        Request::Commit { file, .. } | Request::Sync { file, .. } => Some(file),
        Request::Delete { .. } => None,
    }
}

/// Never overwrites a queued message: ids are picked to be free, but a clock
/// stepping back or two processes with one pid (containers) could still collide.
/// Filesystems without `RENAME_NOREPLACE` get a plain rename.
fn rename_no_replace(from: &Path, to: &Path) -> Result<(), Errno> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Err(Errno::INVAL) | Err(Errno::NOSYS) => rustix::fs::rename(from, to),
        other => other,
    }
}
