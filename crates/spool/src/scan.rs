//! Decoding a whole message file: header, Envelope, body up to BodyEnd, then the
//! updates appended since commit.
//!
//! Everything up to and including BodyEnd must decode, or the file is corrupt.
//! After BodyEnd, a record cut short at end of file is a torn append from a crash:
//! it was never acknowledged, so it is dropped and `torn_tail` says so. Any other
//! fault after BodyEnd is corruption.

use std::io::Read;

use crate::codec;
use crate::envelope::Envelope;
use crate::error::DecodeError;
use crate::record::{check_header, read_full, ReadError, RecordKind, RecordReader, HEADER_LEN};

/// A decoded message file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// The envelope with every recipient update applied in order.
    pub(crate) envelope: Envelope,
    pub(crate) body_size: u64,
    pub(crate) held: bool,
    /// A DelayNotified record is present.
    pub(crate) delay_notified: bool,
    /// Length of the valid prefix of the file.
    pub(crate) valid_len: u64,
    /// True when a partial record follows the valid prefix.
    pub(crate) torn_tail: bool,
}

/// Decodes a whole message file from its first byte.
pub(crate) fn scan(input: impl Read) -> Result<Scanned, ReadError> {
    let mut records = open_records(input)?;
    let envelope = read_envelope(&mut records)?;
    let body_size = skip_body(&mut records)?;
    let mut scanned = Scanned {
        envelope,
        body_size,
        held: false,
        delay_notified: false,
        valid_len: records.offset(),
        torn_tail: false,
    };
    apply_updates(&mut records, &mut scanned)?;
    Ok(scanned)
}

/// Checks the header and returns a reader positioned at the first record.
pub(crate) fn open_records<R: Read>(mut input: R) -> Result<RecordReader<R>, ReadError> {
    let mut header = [0; HEADER_LEN];
    let read = read_full(&mut input, &mut header).map_err(ReadError::Io)?;
    check_header(&header[..read])?;
    Ok(RecordReader::new(input, HEADER_LEN as u64))
}

/// Reads the first record, which must be the Envelope.
pub(crate) fn read_envelope<R: Read>(records: &mut RecordReader<R>) -> Result<Envelope, ReadError> {
    let header = records.next()?.ok_or(DecodeError::Incomplete)?;
    if header.kind != RecordKind::Envelope {
        return Err(unexpected(header.offset, header.kind, "Envelope"));
    }
    codec::decode_envelope(records.payload()).map_err(|error| {
        ReadError::Decode(DecodeError::BadField {
            offset: header.offset,
            kind: header.kind,
            error,
        })
    })
}

/// Reads BodyChunks through BodyEnd, checking the total size and crc.
fn skip_body<R: Read>(records: &mut RecordReader<R>) -> Result<u64, ReadError> {
    let mut body = BodyCheck::default();
    loop {
        let header = records.next()?.ok_or(DecodeError::Incomplete)?;
        match header.kind {
            RecordKind::BodyChunk => body.add(records.payload()),
            RecordKind::BodyEnd => {
                let declared = codec::decode_body_end(records.payload()).map_err(|error| {
                    DecodeError::BadField {
                        offset: header.offset,
                        kind: header.kind,
                        error,
                    }
                })?;
                return Ok(body.finish(declared)?);
            }
            other => return Err(unexpected(header.offset, other, "BodyChunk or BodyEnd")),
        }
    }
}

fn apply_updates<R: Read>(
    records: &mut RecordReader<R>,
    scanned: &mut Scanned,
) -> Result<(), ReadError> {
    loop {
        let header = match records.next() {
            Ok(Some(header)) => header,
            Ok(None) => return Ok(()),
            Err(ReadError::Decode(DecodeError::Truncated { .. })) => {
                scanned.torn_tail = true;
                return Ok(());
            }
            Err(other) => return Err(other),
        };
        match header.kind {
            RecordKind::RecipientUpdate => apply_update(records.payload(), header.offset, scanned)?,
            RecordKind::Hold => scanned.held = true,
            RecordKind::Release => scanned.held = false,
            RecordKind::DelayNotified => scanned.delay_notified = true,
            other => return Err(unexpected(header.offset, other, "an update")),
        }
        scanned.valid_len = records.offset();
    }
}

fn apply_update(payload: &[u8], offset: u64, scanned: &mut Scanned) -> Result<(), DecodeError> {
    let (index, state) = codec::decode_update(payload).map_err(|error| DecodeError::BadField {
        offset,
        kind: RecordKind::RecipientUpdate,
        error,
    })?;
    let recipients = &mut scanned.envelope.recipients;
    let count = recipients.len();
    let recipient = usize::try_from(index)
        .ok()
        .and_then(|index| recipients.get_mut(index))
        .ok_or(DecodeError::NoSuchRecipient {
            offset,
            index,
            count,
        })?;
    recipient.state = state;
    Ok(())
}

/// Running size and crc of a body, compared with BodyEnd at the end.
#[derive(Debug, Default)]
pub(crate) struct BodyCheck {
    size: u64,
    crc: crc32fast::Hasher,
}

impl BodyCheck {
    pub(crate) fn add(&mut self, chunk: &[u8]) {
        self.size += chunk.len() as u64;
        self.crc.update(chunk);
    }

    pub(crate) fn finish(
        self,
        (declared_size, declared_crc): (u64, u32),
    ) -> Result<u64, DecodeError> {
        let actual_crc = self.crc.finalize();
        if declared_size != self.size || declared_crc != actual_crc {
            return Err(DecodeError::BodyMismatch {
                declared_size,
                declared_crc,
                actual_size: self.size,
                actual_crc,
            });
        }
        Ok(self.size)
    }
}

fn unexpected(offset: u64, found: RecordKind, expected: &'static str) -> ReadError {
    ReadError::Decode(DecodeError::UnexpectedRecord {
        offset,
        found,
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{ClientInfo, Recipient, RecipientState, RecipientStatus};
    use crate::record::{encode_record, header};
    use posthorn_proto::{ForwardPath, RcptParams, ReversePath};
    use std::time::{Duration, UNIX_EPOCH};

    fn envelope() -> Envelope {
        Envelope {
            sender: ReversePath::Null,
            params: Default::default(),
            recipients: vec![
                Recipient::new(ForwardPath::Postmaster, RcptParams::default()),
                Recipient::new(ForwardPath::Postmaster, RcptParams::default()),
            ],
            client: ClientInfo {
                helo: "client.example".into(),
                address: None,
                hostname: None,
                protocol: "local".into(),
                auth_id: None,
                tls_version: None,
            },
            received_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }

    /// What a file says after each appended update, from the envelope onwards.
    struct Sample {
        bytes: Vec<u8>,
        /// Offset just past BodyEnd.
        committed_len: usize,
        /// `(end offset of the record, what the file says after applying it)`.
        after_each_update: Vec<(usize, Expected)>,
    }

    /// The decoded state a prefix of the file must give.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Expected {
        envelope: Envelope,
        held: bool,
        delay_notified: bool,
    }

    impl Expected {
        fn of(scanned: &Scanned) -> Expected {
            Expected {
                envelope: scanned.envelope.clone(),
                held: scanned.held,
                delay_notified: scanned.delay_notified,
            }
        }
    }

    fn sample() -> Sample {
        let mut bytes = header().to_vec();
        let envelope = envelope();
        encode_record(
            RecordKind::Envelope,
            &codec::encode_envelope(&envelope),
            &mut bytes,
        );
        encode_record(RecordKind::BodyChunk, b"Subject: hi\r\n\r\n", &mut bytes);
        encode_record(RecordKind::BodyChunk, b"body\r\n", &mut bytes);
        let body = b"Subject: hi\r\n\r\nbody\r\n";
        let end = codec::encode_body_end(body.len() as u64, crc32fast::hash(body));
        encode_record(RecordKind::BodyEnd, &end, &mut bytes);
        let committed_len = bytes.len();
        let deferred = RecipientState {
            status: RecipientStatus::Deferred,
            attempts: 1,
            last_reply: Some("451 4.3.0 try later".into()),
            next_attempt: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_600)),
        };
        let delivered = RecipientState {
            status: RecipientStatus::Delivered,
            attempts: 2,
            last_reply: Some("250 2.0.0 ok".into()),
            next_attempt: None,
        };
        let mut expected = Expected {
            envelope,
            held: false,
            delay_notified: false,
        };
        let mut after_each_update = vec![(bytes.len(), expected.clone())];
        for step in 0..5 {
            match step {
                0 => {
                    let payload = codec::encode_update(0, &deferred);
                    encode_record(RecordKind::RecipientUpdate, &payload, &mut bytes);
                    expected.envelope.recipients[0].state = deferred.clone();
                }
                1 => {
                    encode_record(RecordKind::Hold, &[], &mut bytes);
                    expected.held = true;
                }
                2 => {
                    encode_record(RecordKind::DelayNotified, &[], &mut bytes);
                    expected.delay_notified = true;
                }
                3 => {
                    let payload = codec::encode_update(1, &delivered);
                    encode_record(RecordKind::RecipientUpdate, &payload, &mut bytes);
                    expected.envelope.recipients[1].state = delivered.clone();
                }
                _ => {
                    encode_record(RecordKind::Release, &[], &mut bytes);
                    expected.held = false;
                }
            }
            after_each_update.push((bytes.len(), expected.clone()));
        }
        Sample {
            bytes,
            committed_len,
            after_each_update,
        }
    }

    fn scan_bytes(bytes: &[u8]) -> Result<Scanned, DecodeError> {
        scan(bytes).map_err(|error| match error {
            ReadError::Decode(decode) => decode,
            ReadError::Io(io) => panic!("slices cannot fail: {io}"),
        })
    }

    #[test]
    fn truncation_at_every_offset_is_an_error_or_a_prefix_of_the_updates() {
        let sample = sample();
        for cut in 0..=sample.bytes.len() {
            let result = scan_bytes(&sample.bytes[..cut]);
            if cut < sample.committed_len {
                assert!(result.is_err(), "cut at {cut} before BodyEnd must fail");
                continue;
            }
            let scanned = result.unwrap_or_else(|error| panic!("cut at {cut}: {error}"));
            let (end, expected) = sample
                .after_each_update
                .iter()
                .rev()
                .find(|(end, _)| *end <= cut)
                .cloned()
                .unwrap_or_else(|| panic!("no prefix for {cut}"));
            assert_eq!(Expected::of(&scanned), expected, "cut at {cut}");
            assert_eq!(scanned.valid_len, end as u64, "cut at {cut}");
            assert_eq!(scanned.torn_tail, end != cut, "cut at {cut}");
        }
    }

    #[test]
    fn a_flipped_byte_anywhere_is_never_read_as_the_original() {
        let sample = sample();
        let full = sample.after_each_update.len() - 1;
        for position in 0..sample.bytes.len() {
            for mask in [0x01, 0x80, 0xff] {
                let mut bytes = sample.bytes.clone();
                bytes[position] ^= mask;
                let result = scan_bytes(&bytes);
                if position < sample.committed_len {
                    assert!(result.is_err(), "flip {mask:#x} at {position} undetected");
                    continue;
                }
                // After BodyEnd a flipped length can only pass as a torn tail,
                // which drops that update and everything after it.
                if let Ok(scanned) = result {
                    let applied = sample
                        .after_each_update
                        .iter()
                        .position(|(end, _)| *end as u64 == scanned.valid_len);
                    assert!(scanned.torn_tail, "flip {mask:#x} at {position} undetected");
                    assert!(applied.is_some_and(|count| count < full));
                    let (_, expected) = &sample.after_each_update[applied.unwrap_or(0)];
                    assert_eq!(&Expected::of(&scanned), expected);
                }
            }
        }
    }

    #[test]
    fn an_update_for_a_missing_recipient_is_corrupt() {
        let mut bytes = sample().bytes;
        let payload = codec::encode_update(2, &RecipientState::default());
        encode_record(RecordKind::RecipientUpdate, &payload, &mut bytes);
        assert!(matches!(
            scan_bytes(&bytes),
            Err(DecodeError::NoSuchRecipient {
                index: 2,
                count: 2,
                ..
            })
        ));
    }

    #[test]
    fn a_second_body_end_after_commit_is_corrupt() {
        let mut bytes = sample().bytes;
        encode_record(
            RecordKind::BodyEnd,
            &codec::encode_body_end(0, 0),
            &mut bytes,
        );
        assert!(matches!(
            scan_bytes(&bytes),
            Err(DecodeError::UnexpectedRecord {
                found: RecordKind::BodyEnd,
                ..
            })
        ));
    }
}
