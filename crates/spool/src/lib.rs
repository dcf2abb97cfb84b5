//! The durable message spool of Posthorn.
//!
//! It stores each accepted message (envelope, body, per-recipient delivery state)
//! so that a `250` after DATA is only sent once the message is on stable storage,
//! and a crash at any moment loses nothing acknowledged and delivers nothing
//! incomplete (SPEC §6). It does not schedule retries, deliver, or keep an
//! in-memory index of the queue: the daemon builds its index from
//! [`Spool::recover`] and keeps it itself; [`Spool::list`] and [`Spool::load`]
//! read the files for the CLI.
//!
//! # Layout
//! `DIR/incoming/ID` while a message is received, `DIR/queue/ID` once committed,
//! `DIR/quarantine/` for files recovery could not read. One file per message.
//! A daemon's spool ([`Spool::open_with_spares`]) keeps finished messages' files
//! as `DIR/incoming/ID.spare` and writes new messages over them (`spares.rs`).
//!
//! # File format
//! An 8-byte header (`PHSPOOL` + version 1), then records
//! `[u32 length][u8 kind][payload][u32 crc32 of kind + payload]`, little-endian:
//! Envelope (hand-written length-delimited fields; every string is
//! length-prefixed so no value can forge a record), BodyChunk (at most 64 KiB),
//! BodyEnd (total size and crc32 of the body: the commit marker, without which a
//! file is incomplete), then any number of RecipientUpdate (index + new state),
//! Hold, Release and DelayNotified (a delay DSN went out). Each record is written with one `write` on an `O_APPEND`
//! descriptor, so appends by the daemon and by the CLI never interleave. The
//! decoder caps every length by record kind before reading, checks every crc,
//! and returns a typed [`DecodeError`]; it does not panic on any input.
//!
//! # Durability: group commit
//! One committer thread takes every request waiting in its channel as a batch
//! and, for the batch: syncs the file data (`fdatasync` for one file, one
//! `syncfs` for several), renames `incoming/ID` to `queue/ID`, unlinks deleted
//! messages (or renames them to spares), fsyncs `queue/` once, and only then
//! answers each waiter. The removal of a finished message
//! ([`Spool::remove_finished`]) does not ask for that fsync: it reaches the disk
//! with the next one, and its file is reused only after that. Recipient
//! updates, hold, release, the delay notice and delete go through the same committer and so share
//! its syncs. A message whose commit failed is removed and never reported Ok.
//! Full disks (ENOSPC, EDQUOT) are reported as [`SpoolError::NoSpace`].
//!
//! # Recovery
//! [`Spool::recover`] removes `incoming/` leftovers, quarantines files that do
//! not decode through BodyEnd, cuts off a torn final update record (a crash
//! mid-append, never acknowledged), and rebuilds each message's recipient states
//! by applying its updates in order. [`decode_file`] runs the same decoder on bytes
//! held in memory (for tools and the `spool_record` fuzz target).

mod body;
mod codec;
mod committer;
mod decode;
mod envelope;
mod error;
mod id;
mod record;
mod recover;
mod scan;
mod spares;
mod spool;
mod wire;
mod writer;

pub use body::BodyReader;
pub use codec::MAX_REPLY_LEN;
pub use committer::{CommitStats, LAZY_REMOVALS_BEFORE_SYNC};
pub use decode::{decode_file, DecodedFile};
pub use envelope::{
    ClientInfo, Envelope, QueuedMessage, Recipient, RecipientState, RecipientStatus,
};
pub use error::{DecodeError, FieldError, SpoolError};
pub use id::{InvalidQueueId, QueueId};
pub use record::{RecordKind, BODY_CHUNK_LEN, MAX_ENVELOPE_LEN};
pub use recover::{Quarantined, Recovery};
pub use spool::{Listing, Spool};
pub use writer::{Commit, MessageWriter};
