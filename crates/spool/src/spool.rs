//! The `Spool` handle: opening the directory layout, creating messages, and the
//! operations on queued messages (read, update, hold, release, delete).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::oneshot;

use crate::body::BodyReader;
use crate::codec;
use crate::committer::{CommitStats, Committer, Removal, Request, StatsCounters};
use crate::envelope::{Envelope, QueuedMessage, RecipientState};
use crate::error::SpoolError;
use crate::id::{IdGenerator, QueueId};
use crate::record::{self, encode_record, ReadError, RecordKind, MAX_ENVELOPE_LEN};
use crate::scan::{self, Scanned};
use crate::spares::SparePool;
use crate::writer::{block_on, MessageWriter};

/// How many candidate ids `create` tries before giving up.
const MAX_ID_ATTEMPTS: u32 = 1000;

/// A handle on one spool directory. Cheap to clone; all clones share one
/// committer thread, which stops when the last clone (and writer) is dropped.
#[derive(Debug, Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    incoming: PathBuf,
    queue: PathBuf,
    quarantine: PathBuf,
    ids: IdGenerator,
    requests: Sender<Request>,
    stats: Arc<StatsCounters>,
    spares: Arc<SparePool>,
}

/// A file in `queue/` and its id, or why its name is not one.
pub(crate) type QueueEntry = (PathBuf, Result<QueueId, SpoolError>);

/// The outcome of [`Spool::list_with_problems`]: readable messages and the files
/// that could not be read.
#[derive(Debug)]
pub struct Listing {
    pub messages: Vec<QueuedMessage>,
    pub unreadable: Vec<(PathBuf, SpoolError)>,
}

impl Spool {
    /// Opens (creating if needed) `dir/incoming`, `dir/queue` and
    /// `dir/quarantine`, and starts the committer thread. Finished messages'
    /// files are unlinked: right for short-lived processes such as the CLI.
    pub fn open(dir: &Path) -> Result<Spool, SpoolError> {
        Spool::open_with_spares(dir, 0, 0)
    }

    /// Like [`Spool::open`], and keeps up to `spare_files` files of finished
    /// messages, of at most `spare_bytes` in all, to write new messages over
    /// (see `spares.rs`): for the daemon.
    pub fn open_with_spares(
        dir: &Path,
        spare_files: usize,
        spare_bytes: u64,
    ) -> Result<Spool, SpoolError> {
        let root = dir.to_path_buf();
        let [incoming, queue, quarantine] =
            ["incoming", "queue", "quarantine"].map(|name| root.join(name));
        for path in [&root, &incoming, &queue, &quarantine] {
            fs::create_dir_all(path).map_err(|error| SpoolError::io("create", path, error))?;
        }
        sync_directory(&root)?;
        let queue_dir =
            File::open(&queue).map_err(|error| SpoolError::io("open", &queue, error))?;
        let stats = Arc::new(StatsCounters::default());
        let spares = Arc::new(SparePool::new(spare_files, spare_bytes));
        let (requests, receiver) = mpsc::channel();
        let committer = Committer {
            incoming: incoming.clone(),
            queue: queue.clone(),
            queue_dir,
            stats: Arc::clone(&stats),
            spares: Arc::clone(&spares),
            unsynced_removals: 0,
            unsynced_spares: Vec::new(),
        };
        std::thread::Builder::new()
            .name("posthorn-spool-committer".to_owned())
            .spawn(move || committer.run(receiver))
            .map_err(|error| SpoolError::io("start committer for", &root, error))?;
        let inner = Inner {
            root,
            incoming,
            queue,
            quarantine,
            ids: IdGenerator::new(std::process::id()),
            requests,
            stats,
            spares,
        };
        Ok(Spool {
            inner: Arc::new(inner),
        })
    }

    /// The spool directory as given to `open`.
    pub fn path(&self) -> &Path {
        &self.inner.root
    }

    /// How the committer has batched so far.
    pub fn commit_stats(&self) -> CommitStats {
        self.inner.stats.snapshot()
    }

    /// Starts a message: creates `incoming/ID` (exclusively) holding the header
    /// and the envelope. Write the body to the returned writer, then commit.
    pub fn create(&self, envelope: &Envelope) -> Result<MessageWriter, SpoolError> {
        let payload = codec::encode_envelope(envelope);
        if payload.len() > MAX_ENVELOPE_LEN {
            return Err(SpoolError::EnvelopeTooLarge {
                size: payload.len(),
                limit: MAX_ENVELOPE_LEN,
            });
        }
        let mut start = record::header().to_vec();
        encode_record(RecordKind::Envelope, &payload, &mut start);
        let (id, path, file, spare_length) = self.open_message_file()?;
        let mut writer =
            MessageWriter::new(self.clone(), id, path, file, envelope.clone(), spare_length);
        writer.start(&start);
        Ok(writer)
    }

    /// Picks a free id and the file to write the message into: a spare when the
    /// pool has one (with its old length), else a new `incoming/ID` created with
    /// `O_EXCL`, skipping ids already in `queue/` (possible only if the clock went
    /// back, or for two processes with one pid). Spares exist only in the daemon,
    /// the one process whose ids are unique; there a clash would still only fail
    /// the commit's `RENAME_NOREPLACE`, never overwrite a message.
    fn open_message_file(&self) -> Result<(QueueId, PathBuf, File, Option<u64>), SpoolError> {
        if let Some((path, file, old_length)) = self.take_spare()? {
            let id = self.inner.ids.next(SystemTime::now());
            return Ok((id, path, file, Some(old_length)));
        }
        for _ in 0..MAX_ID_ATTEMPTS {
            let id = self.inner.ids.next(SystemTime::now());
            if self.inner.queue.join(id.as_ref()).exists() {
                continue;
            }
            let path = self.inner.incoming.join(id.as_ref());
            let opened = OpenOptions::new()
                .append(true)
                .create_new(true)
                .mode(0o600)
                .open(&path);
            match opened {
                Ok(file) => {
                    lock_in_progress(&file, &path)?;
                    return Ok((id, path, file, None));
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(SpoolError::io("create", &path, error)),
            }
        }
        Err(SpoolError::IdsExhausted {
            attempts: MAX_ID_ATTEMPTS,
        })
    }

    /// A spare file opened and locked for writing, and its length, if the pool
    /// has one.
    fn take_spare(&self) -> Result<Option<(PathBuf, File, u64)>, SpoolError> {
        while let Some((path, length)) = self.inner.spares.take() {
            match OpenOptions::new().write(true).open(&path) {
                Ok(file) => {
                    lock_in_progress(&file, &path)?;
                    return Ok(Some((path, file, length)));
                }
                // Removed behind our back (an operator cleaning up): try another.
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(SpoolError::io("open", &path, error)),
            }
        }
        Ok(None)
    }

    /// Every readable queued message, oldest arrival first. Unreadable files are
    /// skipped; [`Spool::list_with_problems`] reports them.
    pub fn list(&self) -> Result<Vec<QueuedMessage>, SpoolError> {
        self.list_with_problems().map(|listing| listing.messages)
    }

    /// Like `list`, and also returns every file that could not be read and why.
    pub fn list_with_problems(&self) -> Result<Listing, SpoolError> {
        let mut listing = Listing {
            messages: Vec::new(),
            unreadable: Vec::new(),
        };
        for (path, id) in self.queue_entries()? {
            match id {
                Ok(id) => match self.load(&id) {
                    Ok(message) => listing.messages.push(message),
                    // Deleted between readdir and open: not a problem.
                    Err(SpoolError::NotFound(_)) => {}
                    Err(error) => listing.unreadable.push((path, error)),
                },
                Err(reason) => listing.unreadable.push((path, reason)),
            }
        }
        sort_by_arrival(&mut listing.messages);
        Ok(listing)
    }

    /// The ids in `queue/`, read from the directory alone (files whose names are
    /// not ids are left out): cheap enough to run periodically on a large queue.
    pub fn queued_ids(&self) -> Result<Vec<QueueId>, SpoolError> {
        let entries = self.queue_entries()?;
        Ok(entries.into_iter().filter_map(|(_, id)| id.ok()).collect())
    }

    /// Reads one queued message with its current recipient states.
    pub fn load(&self, id: &QueueId) -> Result<QueuedMessage, SpoolError> {
        let (path, file) = self.open_queued(id, false)?;
        let scanned = scan::scan(BufReader::new(file)).map_err(|error| read_error(&path, error))?;
        Ok(queued_message(id.clone(), scanned))
    }

    /// The body of a queued message, streamed from disk.
    pub fn body(&self, id: &QueueId) -> Result<BodyReader, SpoolError> {
        let (path, file) = self.open_queued(id, false)?;
        BodyReader::new(path.clone(), file).map_err(|error| read_error(&path, error))
    }

    /// Replaces recipients' states (`(index into envelope.recipients, state)`).
    /// Durable on return. Blocks the calling thread for the commit.
    pub fn update_recipients(
        &self,
        id: &QueueId,
        updates: &[(usize, RecipientState)],
    ) -> Result<(), SpoolError> {
        if updates.is_empty() {
            return Ok(());
        }
        let (path, file) = self.open_queued(id, true)?;
        let count = recipient_count(&path, &file)?;
        let mut records = Vec::new();
        for (index, state) in updates {
            let index32 = u32::try_from(*index).ok().filter(|_| *index < count);
            let Some(index32) = index32 else {
                return Err(SpoolError::NoSuchRecipient {
                    id: id.clone(),
                    index: *index,
                    count,
                });
            };
            encode_record(
                RecordKind::RecipientUpdate,
                &codec::encode_update(index32, state),
                &mut records,
            );
        }
        self.append_and_sync(id, &path, file, &records)
    }

    /// Keeps a message queued but out of delivery until `release`. Durable on return.
    pub fn hold(&self, id: &QueueId) -> Result<(), SpoolError> {
        self.append_marker(id, RecordKind::Hold)
    }

    /// Makes a held message deliverable again. Durable on return.
    pub fn release(&self, id: &QueueId) -> Result<(), SpoolError> {
        self.append_marker(id, RecordKind::Release)
    }

    /// Records that the sender was sent a delayed-delivery DSN, so that it is
    /// sent only once, also across restarts. Durable on return.
    pub fn mark_delay_notified(&self, id: &QueueId) -> Result<(), SpoolError> {
        self.append_marker(id, RecordKind::DelayNotified)
    }

    /// Removes a message from the queue. Durable on return.
    pub fn delete(&self, id: &QueueId) -> Result<(), SpoolError> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Delete {
            id: id.clone(),
            removal: Removal::Durable,
            reply,
        })?;
        wait_for(answer)
    }

    /// Removes a message the queue is done with (every recipient delivered,
    /// bounced or expired). Resolves once it is out of `queue/`, without waiting
    /// for the disk: the removal gets there with the spool's next sync of the
    /// directory, which any commit makes. A power loss before then leaves the
    /// message queued and it is delivered again, as after any remote `250` that
    /// was not yet recorded; a daemon crash loses nothing (the kernel has it).
    pub async fn remove_finished(&self, id: &QueueId) -> Result<(), SpoolError> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Delete {
            id: id.clone(),
            removal: Removal::Lazy,
            reply,
        })?;
        answer.await.unwrap_or(Err(SpoolError::CommitterStopped))
    }

    fn append_marker(&self, id: &QueueId, kind: RecordKind) -> Result<(), SpoolError> {
        let (path, file) = self.open_queued(id, true)?;
        let mut record = Vec::new();
        encode_record(kind, &[], &mut record);
        self.append_and_sync(id, &path, file, &record)
    }

    /// Appends `records` with one write, then waits for the committer's sync.
    fn append_and_sync(
        &self,
        id: &QueueId,
        path: &Path,
        file: File,
        records: &[u8],
    ) -> Result<(), SpoolError> {
        append(&file, records).map_err(|error| SpoolError::io("append to", path, error))?;
        let (reply, answer) = oneshot::channel();
        self.send(Request::Sync {
            id: id.clone(),
            file,
            reply,
        })?;
        wait_for(answer)
    }

    fn open_queued(&self, id: &QueueId, for_append: bool) -> Result<(PathBuf, File), SpoolError> {
        let path = self.inner.queue.join(id.as_ref());
        let opened = OpenOptions::new().read(true).append(for_append).open(&path);
        match opened {
            Ok(file) => Ok((path, file)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                Err(SpoolError::NotFound(id.clone()))
            }
            Err(error) => Err(SpoolError::io("open", &path, error)),
        }
    }

    /// Every entry of `queue/` with its id, or why its name is not one.
    pub(crate) fn queue_entries(&self) -> Result<Vec<QueueEntry>, SpoolError> {
        let queue = &self.inner.queue;
        let entries = fs::read_dir(queue).map_err(|error| SpoolError::io("list", queue, error))?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| SpoolError::io("list", queue, error))?;
            let path = entry.path();
            let id = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<QueueId>().ok())
                .ok_or_else(|| not_a_message(&path));
            found.push((path, id));
        }
        Ok(found)
    }

    /// Hands a request to the committer; fails only once it has stopped.
    pub(crate) fn send(&self, request: Request) -> Result<(), SpoolError> {
        self.inner
            .requests
            .send(request)
            .map_err(|_| SpoolError::CommitterStopped)
    }

    pub(crate) fn incoming_dir(&self) -> &Path {
        &self.inner.incoming
    }

    pub(crate) fn spares(&self) -> &SparePool {
        &self.inner.spares
    }

    pub(crate) fn quarantine_dir(&self) -> &Path {
        &self.inner.quarantine
    }

    pub(crate) fn queue_dir(&self) -> &Path {
        &self.inner.queue
    }
}

/// Appends `bytes` with exactly one `write` on an `O_APPEND` file, so records
/// from concurrent writers (daemon and CLI) never interleave.
///
/// Linux returns a short count when the disk fills in the middle of a write; the
/// partial record is then cut off again, because a torn record in the middle of
/// a file (followed by later appends) would make the whole file unreadable.
pub(crate) fn append(mut file: &File, bytes: &[u8]) -> io::Result<()> {
    let written = loop {
        match file.write(bytes) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            other => break other?,
        }
    };
    if written == bytes.len() {
        return Ok(());
    }
    let end = file.metadata()?.len();
    file.set_len(end.saturating_sub(written as u64))?;
    Err(io::Error::from_raw_os_error(libc::ENOSPC))
}

/// Marks a file as being written, so that a concurrent `recover` (a daemon
/// starting while `posthorn sendmail` writes) leaves it alone.
fn lock_in_progress(file: &File, path: &Path) -> Result<(), SpoolError> {
    rustix::fs::flock(file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|errno| SpoolError::errno("lock", path, errno))
}

/// Reads just the envelope record to learn how many recipients there are.
fn recipient_count(path: &Path, file: &File) -> Result<usize, SpoolError> {
    let mut records =
        scan::open_records(BufReader::new(file)).map_err(|error| read_error(path, error))?;
    let envelope = scan::read_envelope(&mut records).map_err(|error| read_error(path, error))?;
    Ok(envelope.recipients.len())
}

pub(crate) fn sync_directory(path: &Path) -> Result<(), SpoolError> {
    let directory = File::open(path).map_err(|error| SpoolError::io("open", path, error))?;
    rustix::fs::fsync(&directory).map_err(|errno| SpoolError::errno("fsync", path, errno))
}

pub(crate) fn read_error(path: &Path, error: ReadError) -> SpoolError {
    match error {
        ReadError::Io(source) => SpoolError::io("read", path, source),
        ReadError::Decode(reason) => SpoolError::Corrupt {
            path: path.to_path_buf(),
            reason,
        },
    }
}

pub(crate) fn queued_message(id: QueueId, scanned: Scanned) -> QueuedMessage {
    QueuedMessage {
        id,
        envelope: scanned.envelope,
        size: scanned.body_size,
        held: scanned.held,
        delay_notified: scanned.delay_notified,
    }
}

pub(crate) fn sort_by_arrival(messages: &mut [QueuedMessage]) {
    messages.sort_by(|a, b| (a.envelope.received_at, &a.id).cmp(&(b.envelope.received_at, &b.id)));
}

fn not_a_message(path: &Path) -> SpoolError {
    SpoolError::StrayFile {
        path: path.to_path_buf(),
    }
}

fn wait_for(answer: oneshot::Receiver<Result<(), SpoolError>>) -> Result<(), SpoolError> {
    block_on(answer).unwrap_or(Err(SpoolError::CommitterStopped))
}
