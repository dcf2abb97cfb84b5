//! Decoding a message file held in memory: the entry point for tools and the fuzz
//! target (`fuzz/fuzz_targets/spool_record.rs`) that have a file's bytes but no spool
//! directory. Recovery and [`crate::Spool::load`] read files through the same decoder.

use crate::envelope::Envelope;
use crate::error::DecodeError;
use crate::record::ReadError;
use crate::scan;

/// What a whole message file says, read exactly as recovery reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFile {
    /// The envelope with every recipient update applied in order.
    pub envelope: Envelope,
    pub body_size: u64,
    pub held: bool,
    /// A DelayNotified record is present.
    pub delay_notified: bool,
    /// Length of the valid prefix; recovery cuts a torn file back to it.
    pub valid_len: u64,
    /// True when a record cut short follows the valid prefix (a crash mid-append).
    pub torn_tail: bool,
}

/// Decodes a whole message file from its first byte; never panics, on any input.
pub fn decode_file(bytes: &[u8]) -> Result<DecodedFile, DecodeError> {
    match scan::scan(bytes) {
        Ok(scanned) => Ok(DecodedFile {
            envelope: scanned.envelope,
            body_size: scanned.body_size,
            held: scanned.held,
            delay_notified: scanned.delay_notified,
            valid_len: scanned.valid_len,
            torn_tail: scanned.torn_tail,
        }),
        Err(ReadError::Decode(error)) => Err(error),
        // Reading a slice cannot fail; `scan` takes any reader, so the arm must exist.
        Err(ReadError::Io(_)) => Err(DecodeError::Incomplete),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_a_spool_file_are_an_error_not_a_panic() {
        assert_eq!(decode_file(b""), Err(DecodeError::ShortHeader));
        assert_eq!(decode_file(b"NOTSPOOLxxxx"), Err(DecodeError::BadMagic));
        assert_eq!(decode_file(b"PHSPOOL\x01"), Err(DecodeError::Incomplete));
    }
}
