//! Record framing: `[u32 length][u8 kind][payload][u32 crc32(kind + payload)]`,
//! little-endian, after an 8-byte file header (`PHSPOOL` + format version).
//!
//! The reader checks the kind and its length cap before reading the payload, so a
//! hostile length never turns into an allocation; it then checks the CRC before
//! anyone sees the payload.

use std::io::{self, Read};

use crate::error::DecodeError;

/// First bytes of every spool file; the eighth byte is the format version.
pub(crate) const MAGIC: &[u8; 7] = b"PHSPOOL";
pub(crate) const FORMAT_VERSION: u8 = 1;
pub(crate) const HEADER_LEN: usize = 8;

/// Largest body slice in one BodyChunk record.
pub const BODY_CHUNK_LEN: usize = 64 * 1024;
/// Largest encoded envelope; bounds what a reader of a hostile file allocates.
pub const MAX_ENVELOPE_LEN: usize = 16 * 1024 * 1024;
/// Bytes of framing around each payload: length, kind, crc.
const FRAMING_LEN: usize = 4 + 1 + 4;

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Envelope,
    BodyChunk,
    /// Total body size and crc; the commit marker.
    BodyEnd,
    RecipientUpdate,
    Hold,
    Release,
    /// The sender has been sent a delayed-delivery DSN for this message.
    DelayNotified,
}

impl RecordKind {
    fn to_byte(self) -> u8 {
        match self {
            RecordKind::Envelope => 1,
            RecordKind::BodyChunk => 2,
            RecordKind::BodyEnd => 3,
            RecordKind::RecipientUpdate => 4,
            RecordKind::Hold => 5,
            RecordKind::Release => 6,
            RecordKind::DelayNotified => 7,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            1 => RecordKind::Envelope,
            2 => RecordKind::BodyChunk,
            3 => RecordKind::BodyEnd,
            4 => RecordKind::RecipientUpdate,
            5 => RecordKind::Hold,
            6 => RecordKind::Release,
            7 => RecordKind::DelayNotified,
            _ => return None,
        })
    }

    /// The largest payload a record of this kind may claim. Tight caps also make a
    /// corrupted length field fail loudly instead of looking like a torn tail.
    fn max_payload(self) -> usize {
        match self {
            RecordKind::Envelope => MAX_ENVELOPE_LEN,
            RecordKind::BodyChunk => BODY_CHUNK_LEN,
            RecordKind::BodyEnd => 12,
            // index, status, attempts, reply, next attempt: well under 8 KiB.
            RecordKind::RecipientUpdate => crate::codec::MAX_REPLY_LEN + 64,
            RecordKind::Hold | RecordKind::Release | RecordKind::DelayNotified => 0,
        }
    }
}

/// The file header every spool file starts with.
pub(crate) fn header() -> [u8; HEADER_LEN] {
    let mut header = [0; HEADER_LEN];
    header[..MAGIC.len()].copy_from_slice(MAGIC);
    header[MAGIC.len()] = FORMAT_VERSION;
    header
}

pub(crate) fn check_header(bytes: &[u8]) -> Result<(), DecodeError> {
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::ShortHeader);
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    match bytes[MAGIC.len()] {
        FORMAT_VERSION => Ok(()),
        other => Err(DecodeError::UnsupportedVersion(other)),
    }
}

/// Appends one framed record to `out`. Callers keep payloads within the kind's cap.
pub(crate) fn encode_record(kind: RecordKind, payload: &[u8], out: &mut Vec<u8>) {
    debug_assert!(payload.len() <= kind.max_payload());
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let kind_byte = kind.to_byte();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[kind_byte]);
    crc.update(payload);
    out.reserve(payload.len() + FRAMING_LEN);
    out.extend_from_slice(&len.to_le_bytes());
    out.push(kind_byte);
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
}

/// A record being built in place at the end of an output buffer, its payload
/// appended piece by piece: body bytes are copied once, into the buffer that is
/// written to the file.
#[derive(Debug)]
pub(crate) struct RecordBuilder {
    /// Where the record's length field is in the buffer.
    start: usize,
    crc: crc32fast::Hasher,
}

impl RecordBuilder {
    /// Starts a record of `kind` at the end of `out`.
    pub(crate) fn begin(kind: RecordKind, out: &mut Vec<u8>) -> Self {
        let start = out.len();
        let kind_byte = kind.to_byte();
        out.extend_from_slice(&[0; 4]);
        out.push(kind_byte);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&[kind_byte]);
        RecordBuilder { start, crc }
    }

    /// Payload bytes so far.
    pub(crate) fn payload_len(&self, out: &[u8]) -> usize {
        out.len() - self.start - 5
    }

    pub(crate) fn append(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.crc.update(bytes);
        out.extend_from_slice(bytes);
    }

    /// Fills in the length and appends the crc.
    pub(crate) fn finish(self, out: &mut Vec<u8>) {
        let len = u32::try_from(self.payload_len(out)).unwrap_or(u32::MAX);
        out[self.start..self.start + 4].copy_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&self.crc.finalize().to_le_bytes());
    }
}

/// Failure to read a record: the disk failed, or the bytes are wrong.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(io::Error),
    Decode(DecodeError),
}

impl From<DecodeError> for ReadError {
    fn from(error: DecodeError) -> Self {
        ReadError::Decode(error)
    }
}

/// Where a record sits in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordHeader {
    pub(crate) kind: RecordKind,
    /// Offset of the record's length field.
    pub(crate) offset: u64,
}

/// Reads records one at a time from a file positioned just after its header.
#[derive(Debug)]
pub(crate) struct RecordReader<R> {
    input: R,
    offset: u64,
    /// Payload and crc of the last record read; reused, bounded by the kind caps.
    buffer: Vec<u8>,
    payload_len: usize,
}

impl<R: Read> RecordReader<R> {
    pub(crate) fn new(input: R, offset: u64) -> Self {
        RecordReader {
            input,
            offset,
            buffer: Vec::new(),
            payload_len: 0,
        }
    }

    /// Offset just past the last record read successfully.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The payload of the record last returned by `next`.
    pub(crate) fn payload(&self) -> &[u8] {
        &self.buffer[..self.payload_len]
    }

    /// The next record, or `None` at a clean end of file (on a record boundary).
    pub(crate) fn next(&mut self) -> Result<Option<RecordHeader>, ReadError> {
        let offset = self.offset;
        let mut prefix = [0; 5];
        match read_full(&mut self.input, &mut prefix).map_err(ReadError::Io)? {
            0 => return Ok(None),
            5 => {}
            _ => return Err(DecodeError::Truncated { offset }.into()),
        }
        let [l0, l1, l2, l3, kind_byte] = prefix;
        let len = u32::from_le_bytes([l0, l1, l2, l3]);
        let kind = RecordKind::from_byte(kind_byte).ok_or(DecodeError::UnknownKind {
            offset,
            kind: kind_byte,
        })?;
        let payload_len = usize::try_from(len).unwrap_or(usize::MAX);
        if payload_len > kind.max_payload() {
            let limit = u32::try_from(kind.max_payload()).unwrap_or(u32::MAX);
            return Err(DecodeError::TooLong {
                offset,
                kind,
                len,
                limit,
            }
            .into());
        }
        self.buffer.resize(payload_len + 4, 0);
        if read_full(&mut self.input, &mut self.buffer).map_err(ReadError::Io)? < self.buffer.len()
        {
            return Err(DecodeError::Truncated { offset }.into());
        }
        let (payload, stored_crc) = self.buffer.split_at(payload_len);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&[kind_byte]);
        crc.update(payload);
        if stored_crc != crc.finalize().to_le_bytes() {
            return Err(DecodeError::BadCrc { offset }.into());
        }
        self.payload_len = payload_len;
        self.offset += (payload_len + FRAMING_LEN) as u64;
        Ok(Some(RecordHeader { kind, offset }))
    }
}

/// Reads until `buffer` is full or the input ends; returns how much was read.
pub(crate) fn read_full(input: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn a_record_built_in_pieces_is_the_record_encoded_at_once() {
        let payload: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut expected = b"prefix".to_vec();
        encode_record(RecordKind::BodyChunk, &payload, &mut expected);
        let mut built = b"prefix".to_vec();
        let mut record = RecordBuilder::begin(RecordKind::BodyChunk, &mut built);
        for piece in payload.chunks(7) {
            record.append(piece, &mut built);
        }
        assert_eq!(record.payload_len(&built), 1000);
        record.finish(&mut built);
        assert_eq!(built, expected);
    }

    fn read_one(bytes: &[u8]) -> (Result<Option<RecordHeader>, DecodeError>, usize) {
        let mut reader = RecordReader::new(Cursor::new(bytes), 0);
        let result = reader.next().map_err(|error| match error {
            ReadError::Decode(decode) => decode,
            ReadError::Io(io) => panic!("cursor cannot fail: {io}"),
        });
        (result, reader.buffer.capacity())
    }

    #[test]
    fn four_gib_length_is_rejected_before_any_allocation() {
        let mut bytes = u32::MAX.to_le_bytes().to_vec();
        bytes.push(RecordKind::BodyChunk.to_byte());
        let (result, buffer_capacity) = read_one(&bytes);
        assert_eq!(
            result,
            Err(DecodeError::TooLong {
                offset: 0,
                kind: RecordKind::BodyChunk,
                len: u32::MAX,
                limit: BODY_CHUNK_LEN as u32,
            })
        );
        assert_eq!(buffer_capacity, 0, "the payload buffer must not have grown");
    }

    #[test]
    fn a_record_round_trips_and_a_flipped_payload_bit_fails_the_crc() {
        let mut bytes = Vec::new();
        encode_record(RecordKind::BodyChunk, b"hello", &mut bytes);
        let mut reader = RecordReader::new(Cursor::new(&bytes), 0);
        let header = reader.next().ok().flatten();
        assert_eq!(header.map(|h| h.kind), Some(RecordKind::BodyChunk));
        assert_eq!(reader.payload(), b"hello");
        assert_eq!(reader.offset(), bytes.len() as u64);

        bytes[6] ^= 0x01;
        assert_eq!(read_one(&bytes).0, Err(DecodeError::BadCrc { offset: 0 }));
    }

    #[test]
    fn unknown_kinds_and_short_records_are_typed_errors() {
        let mut bytes = 0u32.to_le_bytes().to_vec();
        bytes.push(99);
        assert_eq!(
            read_one(&bytes).0,
            Err(DecodeError::UnknownKind {
                offset: 0,
                kind: 99
            })
        );
        let mut record = Vec::new();
        encode_record(RecordKind::Hold, b"", &mut record);
        for cut in 1..record.len() {
            assert_eq!(
                read_one(&record[..cut]).0,
                Err(DecodeError::Truncated { offset: 0 })
            );
        }
        assert_eq!(read_one(&[]).0, Ok(None));
    }

    #[test]
    fn markers_carry_no_payload() {
        for kind in [
            RecordKind::Hold,
            RecordKind::Release,
            RecordKind::DelayNotified,
        ] {
            let mut bytes = 1u32.to_le_bytes().to_vec();
            bytes.push(kind.to_byte());
            bytes.extend_from_slice(&[0; 5]);
            assert_eq!(
                read_one(&bytes).0,
                Err(DecodeError::TooLong {
                    offset: 0,
                    kind,
                    len: 1,
                    limit: 0
                })
            );
            let mut record = Vec::new();
            encode_record(kind, &[], &mut record);
            let header = read_one(&record).0.ok().flatten();
            assert_eq!(header.map(|h| h.kind), Some(kind));
        }
    }

    #[test]
    fn header_checks_magic_and_version() {
        assert_eq!(check_header(&header()), Ok(()));
        assert_eq!(check_header(&header()[..7]), Err(DecodeError::ShortHeader));
        let mut wrong_version = header();
        wrong_version[7] = 2;
        assert_eq!(
            check_header(&wrong_version),
            Err(DecodeError::UnsupportedVersion(2))
        );
        assert_eq!(check_header(b"PHSPOOX\x01"), Err(DecodeError::BadMagic));
    }
}
