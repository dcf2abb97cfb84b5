//! Receiving one message into `incoming/`: `MessageWriter` streams the body to
//! disk in chunks and `Commit` is the answer from the group committer.

use std::fs::{self, File};
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use tokio::sync::oneshot;

use crate::codec;
use crate::committer::Request;
use crate::envelope::{Envelope, QueuedMessage};
use crate::error::SpoolError;
use crate::id::QueueId;
use crate::record::{encode_record, RecordBuilder, RecordKind, BODY_CHUNK_LEN};
use crate::spool::Spool;

/// A message being received. Dropping it without `commit` aborts: the file in
/// `incoming/` is removed (and recovery removes any leftover after a crash).
#[derive(Debug)]
pub struct MessageWriter {
    spool: Spool,
    id: QueueId,
    path: PathBuf,
    /// `None` once handed to the committer.
    file: Option<File>,
    envelope: Envelope,
    /// Records not yet written, the last perhaps an open BodyChunk (`chunk`):
    /// a small message takes one `write`, and memory stays under two chunks
    /// however large the message is.
    unwritten: Vec<u8>,
    chunk: Option<RecordBuilder>,
    size: u64,
    body_crc: crc32fast::Hasher,
    /// Set by the first failed write: whether it was a full disk.
    failed: Option<bool>,
    /// Bytes written to the file so far.
    written: u64,
    /// Written over a spare file of this length: cut to `written` before the
    /// commit if it was longer.
    spare_length: Option<u64>,
}

impl MessageWriter {
    pub(crate) fn new(
        spool: Spool,
        id: QueueId,
        path: PathBuf,
        file: File,
        envelope: Envelope,
        spare_length: Option<u64>,
    ) -> Self {
        MessageWriter {
            spool,
            id,
            path,
            file: Some(file),
            envelope,
            unwritten: Vec::new(),
            chunk: None,
            size: 0,
            body_crc: crc32fast::Hasher::new(),
            failed: None,
            written: 0,
            spare_length,
        }
    }

    /// Adds the file header and envelope record (by `Spool::create`).
    pub(crate) fn start(&mut self, start: &[u8]) {
        self.unwritten.extend_from_slice(start);
    }

    pub fn id(&self) -> &QueueId {
        &self.id
    }

    /// Body bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds body bytes, in BodyChunk records of at most 64 KiB. After a failure
    /// every later call (and `commit`) fails too: the body on disk is missing bytes.
    pub fn write(&mut self, mut body_bytes: &[u8]) -> Result<(), SpoolError> {
        self.check_not_failed()?;
        self.size += body_bytes.len() as u64;
        self.body_crc.update(body_bytes);
        while !body_bytes.is_empty() {
            let chunk = self.chunk.get_or_insert_with(|| {
                RecordBuilder::begin(RecordKind::BodyChunk, &mut self.unwritten)
            });
            let room = BODY_CHUNK_LEN - chunk.payload_len(&self.unwritten);
            let (now, later) = body_bytes.split_at(room.min(body_bytes.len()));
            chunk.append(now, &mut self.unwritten);
            body_bytes = later;
            if room == now.len() {
                self.close_chunk()?;
            }
        }
        Ok(())
    }

    /// Writes BodyEnd (the commit marker) and hands the file to the committer.
    /// The message is queued once the returned `Commit` resolves to `Ok`.
    pub fn commit(mut self) -> Commit {
        match self.finish_file() {
            Ok(file) => self.send_to_committer(file),
            Err(error) => Commit::failed(error),
        }
    }

    fn finish_file(&mut self) -> Result<File, SpoolError> {
        self.check_not_failed()?;
        if self.chunk.is_some() {
            self.close_chunk()?;
        }
        let body_crc = std::mem::take(&mut self.body_crc).finalize();
        let payload = codec::encode_body_end(self.size, body_crc);
        encode_record(RecordKind::BodyEnd, &payload, &mut self.unwritten);
        self.write_out()?;
        if self
            .spare_length
            .is_some_and(|length| length > self.written)
        {
            self.cut_off_old_content()?;
        }
        self.file.take().ok_or(SpoolError::CommitterStopped)
    }

    /// A spare may be longer than the new message: what follows BodyEnd would
    /// read as torn update records of the old message.
    fn cut_off_old_content(&mut self) -> Result<(), SpoolError> {
        let Some(file) = self.file.as_ref() else {
            return Err(SpoolError::CommitterStopped);
        };
        file.set_len(self.written)
            .map_err(|error| self.record_failure(SpoolError::io("truncate", &self.path, error)))
    }

    fn send_to_committer(&mut self, file: File) -> Commit {
        let (reply, answer) = oneshot::channel();
        let message = QueuedMessage {
            id: self.id.clone(),
            envelope: self.envelope.clone(),
            size: self.size,
            held: false,
            delay_notified: false,
        };
        let request = Request::Commit {
            path: self.path.clone(),
            file,
            message: Box::new(message),
            reply,
        };
        if let Err(error) = self.spool.send(request) {
            let _ = fs::remove_file(&self.path);
            return Commit::failed(error);
        }
        Commit { answer }
    }

    /// Completes the open BodyChunk; writes once a chunk's worth has gathered.
    fn close_chunk(&mut self) -> Result<(), SpoolError> {
        if let Some(chunk) = self.chunk.take() {
            chunk.finish(&mut self.unwritten);
        }
        if self.unwritten.len() >= BODY_CHUNK_LEN {
            self.write_out()?;
        }
        Ok(())
    }

    /// Nobody else writes this file while it is in `incoming/`, so a plain
    /// `write_all` is enough; after a failure the message is never committed.
    fn write_out(&mut self) -> Result<(), SpoolError> {
        let Some(mut file) = self.file.as_ref() else {
            return Err(SpoolError::CommitterStopped);
        };
        match file.write_all(&self.unwritten) {
            Ok(()) => {
                self.written += self.unwritten.len() as u64;
                self.unwritten.clear();
                Ok(())
            }
            Err(error) => Err(self.record_failure(SpoolError::io("write", &self.path, error))),
        }
    }

    fn record_failure(&mut self, error: SpoolError) -> SpoolError {
        self.failed = Some(error.is_no_space());
        error
    }

    fn check_not_failed(&self) -> Result<(), SpoolError> {
        match self.failed {
            None => Ok(()),
            Some(no_space) => Err(SpoolError::WriterFailed {
                id: self.id.clone(),
                no_space,
            }),
        }
    }
}

impl Drop for MessageWriter {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            drop(file);
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The committer's answer for one message: `Ok` only once the file data, the
/// rename into `queue/` and the directory are on stable storage.
///
/// Await it in async code, or call [`Commit::wait`] where there is no runtime.
/// Dropping it does not cancel the commit: the message may still be queued, it
/// just goes unacknowledged (the client will retry; a duplicate, never a loss).
#[derive(Debug)]
#[must_use = "the message is not acknowledged until the commit resolves"]
pub struct Commit {
    answer: oneshot::Receiver<Result<QueuedMessage, SpoolError>>,
}

impl Commit {
    /// A commit that failed before reaching the committer.
    fn failed(error: SpoolError) -> Self {
        let (reply, answer) = oneshot::channel();
        let _ = reply.send(Err(error));
        Commit { answer }
    }

    /// Blocks the calling thread until the committer answers. Works inside or
    /// outside an async runtime (it parks the thread), but blocks a runtime worker
    /// if called there.
    pub fn wait(self) -> Result<QueuedMessage, SpoolError> {
        block_on(self)
    }
}

impl Future for Commit {
    type Output = Result<QueuedMessage, SpoolError>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        // A dropped sender means the committer thread is gone.
        Pin::new(&mut self.answer)
            .poll(context)
            .map(|answer| answer.unwrap_or(Err(SpoolError::CommitterStopped)))
    }
}

/// Wakes a parked thread.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives one future to completion on the current thread, without a runtime.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        thread::park();
    }
}
