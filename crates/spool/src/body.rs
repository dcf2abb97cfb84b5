//! Streaming a committed message's body back out, one BodyChunk at a time.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;

use crate::codec;
use crate::error::DecodeError;
use crate::record::{ReadError, RecordKind, RecordReader};
use crate::scan::{self, BodyCheck};

/// The body of a queued message, as `std::io::Read`. Memory use is one chunk.
///
/// Every chunk's crc is checked as it is read, and the total size and crc
/// against BodyEnd at the end; a mismatch is an `InvalidData` error, so a
/// corrupt body is never silently delivered.
#[derive(Debug)]
pub struct BodyReader {
    path: PathBuf,
    records: RecordReader<BufReader<File>>,
    /// Unread part of the current chunk: `records.payload()[position..chunk_len]`
    /// (`chunk_len` is 0 until the first chunk, while the payload is the envelope).
    position: usize,
    chunk_len: usize,
    check: Option<BodyCheck>,
}

impl BodyReader {
    /// Positions a reader on the first body chunk of an open message file.
    pub(crate) fn new(path: PathBuf, file: File) -> Result<Self, ReadError> {
        let mut records = scan::open_records(BufReader::new(file))?;
        scan::read_envelope(&mut records)?;
        Ok(BodyReader {
            path,
            records,
            position: 0,
            chunk_len: 0,
            check: Some(BodyCheck::default()),
        })
    }

    /// Moves to the next chunk; false once BodyEnd has been checked.
    fn next_chunk(&mut self) -> io::Result<bool> {
        let Some(check) = self.check.as_mut() else {
            return Ok(false);
        };
        let header = match self.records.next() {
            Ok(Some(header)) => header,
            Ok(None) => return Err(self.corrupt(DecodeError::Incomplete)),
            Err(ReadError::Io(error)) => return Err(error),
            Err(ReadError::Decode(error)) => return Err(self.corrupt(error)),
        };
        match header.kind {
            RecordKind::BodyChunk => {
                check.add(self.records.payload());
                self.position = 0;
                self.chunk_len = self.records.payload().len();
                Ok(true)
            }
            RecordKind::BodyEnd => {
                (self.position, self.chunk_len) = (0, 0);
                self.finish(header.offset).map(|()| false)
            }
            found => Err(self.corrupt(DecodeError::UnexpectedRecord {
                offset: header.offset,
                found,
                expected: "BodyChunk or BodyEnd",
            })),
        }
    }

    fn finish(&mut self, offset: u64) -> io::Result<()> {
        let declared = codec::decode_body_end(self.records.payload()).map_err(|error| {
            self.corrupt(DecodeError::BadField {
                offset,
                kind: RecordKind::BodyEnd,
                error,
            })
        })?;
        let check = self.check.take().unwrap_or_default();
        check
            .finish(declared)
            .map(|_| ())
            .map_err(|error| self.corrupt(error))
    }

    fn corrupt(&self, error: DecodeError) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("spool file {}: {error}", self.path.display()),
        )
    }
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        while self.position >= self.chunk_len {
            if self.check.is_none() || !self.next_chunk()? {
                return Ok(0);
            }
        }
        let available = &self.records.payload()[self.position..self.chunk_len];
        let count = available.len().min(out.len());
        out[..count].copy_from_slice(&available[..count]);
        self.position += count;
        Ok(count)
    }
}
