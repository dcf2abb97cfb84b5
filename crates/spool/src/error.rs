//! Errors: what went wrong with the disk (`SpoolError`) and what is wrong with a
//! file's bytes (`DecodeError`, `FieldError`).

use std::io;
use std::path::{Path, PathBuf};

use crate::id::QueueId;
use crate::record::RecordKind;

/// Everything a spool operation can fail with.
#[derive(thiserror::Error, Debug)]
pub enum SpoolError {
    /// The filesystem is full (ENOSPC) or the quota is exhausted (EDQUOT).
    #[error("spool out of disk space while trying to {op} {path}")]
    NoSpace { op: &'static str, path: PathBuf },
    /// Any other I/O failure.
    #[error("spool I/O error while trying to {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file exists but its bytes do not decode.
    #[error("spool file {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: DecodeError },
    /// A file in `queue/` whose name is not a queue id.
    #[error("{path} is not named like a queue id")]
    StrayFile { path: PathBuf },
    #[error("no queued message {0}")]
    NotFound(QueueId),
    #[error("message {id} has no recipient #{index} (it has {count})")]
    NoSuchRecipient {
        id: QueueId,
        index: usize,
        count: usize,
    },
    #[error("envelope encodes to {size} bytes, more than the spool's limit of {limit}")]
    EnvelopeTooLarge { size: usize, limit: usize },
    /// An earlier `write` on this `MessageWriter` failed, so the body is incomplete.
    #[error("message {id} lost body data in an earlier failed write")]
    WriterFailed { id: QueueId, no_space: bool },
    #[error("could not find a free queue id after {attempts} attempts")]
    IdsExhausted { attempts: u32 },
    #[error("the spool's commit thread has stopped")]
    CommitterStopped,
}

impl SpoolError {
    /// True when retrying after space is freed can succeed; the server answers
    /// `452 4.3.1` for these and `451 4.3.0` for every other spool error.
    pub fn is_no_space(&self) -> bool {
        match self {
            SpoolError::NoSpace { .. } => true,
            SpoolError::WriterFailed { no_space, .. } => *no_space,
            _ => false,
        }
    }

    /// Classifies an I/O error: ENOSPC and EDQUOT become `NoSpace`, the rest `Io`.
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> SpoolError {
        let path = path.to_path_buf();
        match source.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => SpoolError::NoSpace { op, path },
            _ => SpoolError::Io { op, path, source },
        }
    }

    pub(crate) fn errno(op: &'static str, path: &Path, errno: rustix::io::Errno) -> SpoolError {
        SpoolError::io(op, path, io::Error::from(errno))
    }
}

/// Why a spool file's bytes are not a valid message.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("file is shorter than its header")]
    ShortHeader,
    #[error("not a Posthorn spool file (bad magic)")]
    BadMagic,
    #[error("unsupported spool format version {0}")]
    UnsupportedVersion(u8),
    #[error("record at offset {offset} is cut short")]
    Truncated { offset: u64 },
    #[error("record at offset {offset} has unknown kind {kind}")]
    UnknownKind { offset: u64, kind: u8 },
    #[error("{kind:?} record at offset {offset} claims {len} bytes, limit is {limit}")]
    TooLong {
        offset: u64,
        kind: RecordKind,
        len: u32,
        limit: u32,
    },
    #[error("record at offset {offset} fails its CRC check")]
    BadCrc { offset: u64 },
    #[error("{kind:?} record at offset {offset}: {error}")]
    BadField {
        offset: u64,
        kind: RecordKind,
        error: FieldError,
    },
    #[error("unexpected {found:?} record at offset {offset}, expected {expected}")]
    UnexpectedRecord {
        offset: u64,
        found: RecordKind,
        expected: &'static str,
    },
    #[error("file ends before the body's end marker (never committed)")]
    Incomplete,
    #[error("body end marker says {declared_size} bytes / crc {declared_crc:08x}, body has {actual_size} / {actual_crc:08x}")]
    BodyMismatch {
        declared_size: u64,
        declared_crc: u32,
        actual_size: u64,
        actual_crc: u32,
    },
    #[error("update at offset {offset} names recipient #{index}, envelope has {count}")]
    NoSuchRecipient {
        offset: u64,
        index: u32,
        count: usize,
    },
}

/// Why one record's payload does not decode into its typed fields.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum FieldError {
    #[error("payload ends inside {field}")]
    Short { field: &'static str },
    #[error("{field} is not valid UTF-8")]
    InvalidUtf8 { field: &'static str },
    #[error("{field} has unknown tag {tag}")]
    BadTag { field: &'static str, tag: u8 },
    #[error("{0} unexpected bytes after the last field")]
    TrailingBytes(usize),
    #[error("{field} is not a representable time")]
    BadTime { field: &'static str },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_disk_and_quota_map_to_no_space_and_the_rest_to_io() {
        let path = Path::new("/spool/queue/x");
        for (errno, no_space) in [
            (libc::ENOSPC, true),
            (libc::EDQUOT, true),
            (libc::EIO, false),
            (libc::EACCES, false),
        ] {
            let error = SpoolError::io("write", path, io::Error::from_raw_os_error(errno));
            assert_eq!(error.is_no_space(), no_space, "errno {errno}");
            assert_eq!(matches!(error, SpoolError::Io { .. }), !no_space);
        }
        let id: QueueId = "qAKNj3AB012345".parse().expect("valid id");
        let failed = |no_space| SpoolError::WriterFailed {
            id: id.clone(),
            no_space,
        };
        assert!(failed(true).is_no_space());
        assert!(!failed(false).is_no_space());
        assert!(!SpoolError::NotFound(id.clone()).is_no_space());
    }
}
