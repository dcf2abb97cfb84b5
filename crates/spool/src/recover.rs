//! Recovery at daemon start: drop what was never acknowledged, set aside what is
//! unreadable, and read back every queued message with its recipients' states.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use crate::envelope::QueuedMessage;
use crate::error::SpoolError;
use crate::id::QueueId;
use crate::record::ReadError;
use crate::scan::{self, Scanned};
use crate::spares::is_spare;
use crate::spool::{queued_message, sort_by_arrival, sync_directory, Spool};

/// What `recover` found.
#[derive(Debug)]
pub struct Recovery {
    /// Every committed message, oldest arrival first.
    pub messages: Vec<QueuedMessage>,
    /// Files moved out of `queue/` because they do not decode.
    pub quarantined: Vec<Quarantined>,
    /// Files removed from `incoming/`: messages never acknowledged to anyone.
    pub discarded_incomplete: usize,
}

/// A file moved aside into `quarantine/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub original: PathBuf,
    pub moved_to: PathBuf,
    pub reason: String,
}

impl Spool {
    /// Brings the spool to a consistent state and returns its contents. Run it
    /// once at daemon start, before anything else uses the spool:
    /// - every file in `incoming/` is removed (unless a live `posthorn sendmail`
    ///   still holds its lock): it never got BodyEnd plus a rename, so nobody was
    ///   told it was accepted; spares (`ID.spare`, see `spares.rs`, perhaps with
    ///   an unacknowledged message half written over one) rejoin the spare pool;
    /// - every file in `queue/` that does not decode through BodyEnd is moved
    ///   to `quarantine/` with the reason;
    /// - a torn record at the end of a committed file (a crash during an update
    ///   append, never acknowledged) is cut off, so later appends follow a valid
    ///   record.
    pub fn recover(&self) -> Result<Recovery, SpoolError> {
        // The last run may have renamed finished messages to spares without
        // syncing `queue/` (lazy removals): make that durable before any spare is
        // written over, so a crash cannot show new data under an old name.
        sync_directory(self.queue_dir())?;
        let discarded_incomplete = self.discard_incoming()?;
        let mut recovery = Recovery {
            messages: Vec::new(),
            quarantined: Vec::new(),
            discarded_incomplete,
        };
        for (path, id) in self.queue_entries()? {
            match id.and_then(|id| self.recover_one(&path, id)) {
                Ok(message) => recovery.messages.push(message),
                Err(SpoolError::Io { op, path, source }) => {
                    return Err(SpoolError::Io { op, path, source })
                }
                Err(reason) => recovery.quarantined.push(self.quarantine(&path, &reason)?),
            }
        }
        if !recovery.quarantined.is_empty() {
            sync_directory(self.quarantine_dir())?;
            sync_directory(self.queue_dir())?;
        }
        sort_by_arrival(&mut recovery.messages);
        Ok(recovery)
    }

    fn discard_incoming(&self) -> Result<usize, SpoolError> {
        let incoming = self.incoming_dir();
        let entries =
            fs::read_dir(incoming).map_err(|error| SpoolError::io("list", incoming, error))?;
        let mut discarded = 0;
        for entry in entries {
            let path = entry
                .map_err(|error| SpoolError::io("list", incoming, error))?
                .path();
            if is_being_written(&path)? {
                continue;
            }
            if is_spare(&path) {
                self.keep_or_remove_spare(path)?;
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => discarded += 1,
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(SpoolError::io("remove", &path, error)),
            }
        }
        Ok(discarded)
    }

    /// A spare left by the last run goes back into the pool (or away if full).
    fn keep_or_remove_spare(&self, path: PathBuf) -> Result<(), SpoolError> {
        let size = fs::metadata(&path).map_or(u64::MAX, |meta| meta.len());
        match self.spares().put(path, size) {
            Ok(()) => Ok(()),
            Err(path) => match fs::remove_file(&path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => {
                    Err(SpoolError::io("remove", &path, error))
                }
                _ => Ok(()),
            },
        }
    }

    /// Decodes one committed file; cuts off a torn tail.
    fn recover_one(&self, path: &Path, id: QueueId) -> Result<QueuedMessage, SpoolError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|error| SpoolError::io("open", path, error))?;
        let scanned = scan::scan(BufReader::new(&file)).map_err(|error| match error {
            ReadError::Io(source) => SpoolError::io("read", path, source),
            ReadError::Decode(reason) => SpoolError::Corrupt {
                path: path.to_path_buf(),
                reason,
            },
        })?;
        if scanned.torn_tail {
            cut_torn_tail(path, &file, &scanned)?;
        }
        Ok(queued_message(id, scanned))
    }

    /// Moves a file into `quarantine/`, under a name not yet taken there.
    fn quarantine(&self, original: &Path, reason: &SpoolError) -> Result<Quarantined, SpoolError> {
        let name = original
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut moved_to = self.quarantine_dir().join(&name);
        let mut suffix = 1;
        while moved_to.exists() {
            moved_to = self.quarantine_dir().join(format!("{name}.{suffix}"));
            suffix += 1;
        }
        fs::rename(original, &moved_to)
            .map_err(|error| SpoolError::io("quarantine", original, error))?;
        Ok(Quarantined {
            original: original.to_path_buf(),
            moved_to,
            reason: reason.to_string(),
        })
    }
}

fn cut_torn_tail(path: &Path, file: &File, scanned: &Scanned) -> Result<(), SpoolError> {
    file.set_len(scanned.valid_len)
        .map_err(|error| SpoolError::io("truncate", path, error))?;
    rustix::fs::fdatasync(file).map_err(|errno| SpoolError::errno("fdatasync", path, errno))
}

/// True when another process holds the file's in-progress lock.
fn is_being_written(path: &Path) -> Result<bool, SpoolError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(SpoolError::io("open", path, error)),
    };
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(false),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(true),
        Err(errno) => Err(SpoolError::errno("lock", path, errno)),
    }
}
