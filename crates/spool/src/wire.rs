//! Primitive field encoding inside a record payload: little-endian integers,
//! `u32`-length-prefixed strings, tagged options and times.
//!
//! Every string carries its length, so no value can be mistaken for a field
//! boundary or a record boundary, whatever bytes it holds. The decoder only ever
//! slices the payload it was given, so hostile lengths cannot make it allocate
//! more than the (already capped) payload.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::FieldError;

/// Builds one record payload.
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    bytes: Vec<u8>,
}

impl Encoder {
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    pub(crate) fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }

    pub(crate) fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn bool(&mut self, value: bool) {
        self.u8(u8::from(value));
    }

    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    /// Strings longer than 4 GiB cannot occur in a payload capped far below that;
    /// the length saturates rather than wrapping so the decoder rejects it.
    pub(crate) fn str(&mut self, value: &str) {
        self.u32(u32::try_from(value.len()).unwrap_or(u32::MAX));
        self.raw(value.as_bytes());
    }

    /// `0` for `None`, `1` followed by the value for `Some`.
    pub(crate) fn option<T>(&mut self, value: Option<T>, encode: impl FnOnce(&mut Self, T)) {
        match value {
            None => self.u8(0),
            Some(inner) => {
                self.u8(1);
                encode(self, inner);
            }
        }
    }

    /// A tag (`0` at or after the epoch, `1` before it), seconds, nanoseconds.
    pub(crate) fn time(&mut self, value: SystemTime) {
        let (tag, offset) = match value.duration_since(UNIX_EPOCH) {
            Ok(after) => (0, after),
            Err(before) => (1, before.duration()),
        };
        self.u8(tag);
        self.u64(offset.as_secs());
        self.u32(offset.subsec_nanos());
    }
}

/// Reads fields back out of one payload, in the order they were encoded.
#[derive(Debug)]
pub(crate) struct Decoder<'a> {
    rest: &'a [u8],
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(payload: &'a [u8]) -> Self {
        Decoder { rest: payload }
    }

    /// Succeeds only if every byte was consumed.
    pub(crate) fn finish(self) -> Result<(), FieldError> {
        match self.rest.len() {
            0 => Ok(()),
            extra => Err(FieldError::TrailingBytes(extra)),
        }
    }

    pub(crate) fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], FieldError> {
        if len > self.rest.len() {
            return Err(FieldError::Short { field });
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], FieldError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N, field)?);
        Ok(array)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, FieldError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, FieldError> {
        self.array(field).map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, FieldError> {
        self.array(field).map(u64::from_le_bytes)
    }

    pub(crate) fn ipv4(&mut self, field: &'static str) -> Result<[u8; 4], FieldError> {
        self.array(field)
    }

    pub(crate) fn ipv6(&mut self, field: &'static str) -> Result<[u8; 16], FieldError> {
        self.array(field)
    }

    pub(crate) fn bool(&mut self, field: &'static str) -> Result<bool, FieldError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(FieldError::BadTag { field, tag }),
        }
    }

    pub(crate) fn str(&mut self, field: &'static str) -> Result<String, FieldError> {
        let len = self.u32(field)?;
        let len = usize::try_from(len).map_err(|_| FieldError::Short { field })?;
        let bytes = self.take(len, field)?;
        let text = std::str::from_utf8(bytes).map_err(|_| FieldError::InvalidUtf8 { field })?;
        Ok(text.to_owned())
    }

    pub(crate) fn option<T>(
        &mut self,
        field: &'static str,
        decode: impl FnOnce(&mut Self) -> Result<T, FieldError>,
    ) -> Result<Option<T>, FieldError> {
        if self.bool(field)? {
            decode(self).map(Some)
        } else {
            Ok(None)
        }
    }

    pub(crate) fn time(&mut self, field: &'static str) -> Result<SystemTime, FieldError> {
        let tag = self.u8(field)?;
        let secs = self.u64(field)?;
        let nanos = self.u32(field)?;
        if nanos >= 1_000_000_000 {
            return Err(FieldError::BadTime { field });
        }
        let offset = Duration::new(secs, nanos);
        let time = match tag {
            0 => UNIX_EPOCH.checked_add(offset),
            1 => UNIX_EPOCH.checked_sub(offset),
            tag => return Err(FieldError::BadTag { field, tag }),
        };
        time.ok_or(FieldError::BadTime { field })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_before_and_after_the_epoch_round_trip() {
        let times = [
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            UNIX_EPOCH - Duration::new(86_400, 1),
        ];
        for time in times {
            let mut encoder = Encoder::default();
            encoder.time(time);
            let bytes = encoder.into_bytes();
            let mut decoder = Decoder::new(&bytes);
            assert_eq!(decoder.time("t"), Ok(time));
            assert_eq!(decoder.finish(), Ok(()));
        }
    }

    #[test]
    fn string_length_beyond_payload_is_short_not_allocated() {
        let mut encoder = Encoder::default();
        encoder.u32(u32::MAX);
        encoder.raw(b"abc");
        let bytes = encoder.into_bytes();
        let mut decoder = Decoder::new(&bytes);
        assert_eq!(
            decoder.str("helo"),
            Err(FieldError::Short { field: "helo" })
        );
    }

    #[test]
    fn invalid_nanoseconds_and_bools_are_rejected() {
        let mut encoder = Encoder::default();
        encoder.u8(0);
        encoder.u64(1);
        encoder.u32(1_000_000_000);
        let bytes = encoder.into_bytes();
        assert_eq!(
            Decoder::new(&bytes).time("t"),
            Err(FieldError::BadTime { field: "t" })
        );
        assert_eq!(
            Decoder::new(&[2]).bool("b"),
            Err(FieldError::BadTag { field: "b", tag: 2 })
        );
    }
}
