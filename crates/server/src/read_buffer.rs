//! A session's read buffer: small while commands arrive, so that thousands of idle or
//! chatty sessions stay cheap, and large while a big message streams in, so that a
//! megabyte takes a few reads (and a few spool records) instead of dozens.

/// What every session starts with, and returns to after each message.
pub(crate) const SMALL: usize = 16 * 1024;
/// What a session grows to once a read inside a message fills the small buffer.
pub(crate) const LARGE: usize = 128 * 1024;

pub(crate) struct ReadBuffer {
    bytes: Vec<u8>,
}

impl ReadBuffer {
    pub(crate) fn new() -> Self {
        ReadBuffer {
            bytes: vec![0; SMALL],
        }
    }

    /// Where the next read goes.
    pub(crate) fn space(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// The bytes of the read that just returned `count`.
    pub(crate) fn filled(&self, count: usize) -> &[u8] {
        &self.bytes[..count.min(self.bytes.len())]
    }

    /// After a read of `count` bytes. A read that filled the buffer inside a message
    /// says more is already waiting: read in large pieces until the message ends.
    pub(crate) fn after_read(&mut self, count: usize, in_message: bool) {
        if in_message && count == self.bytes.len() && self.bytes.len() < LARGE {
            self.bytes.resize(LARGE, 0);
        }
    }

    /// The message ended: back to the small buffer, its memory returned.
    pub(crate) fn message_ended(&mut self) {
        if self.bytes.len() > SMALL {
            self.bytes.truncate(SMALL);
            self.bytes.shrink_to_fit();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_only_when_a_read_inside_a_message_fills_it() {
        let mut buffer = ReadBuffer::new();
        buffer.after_read(SMALL, false);
        assert_eq!(
            buffer.len(),
            SMALL,
            "a full read of commands does not grow it"
        );
        buffer.after_read(SMALL - 1, true);
        assert_eq!(
            buffer.len(),
            SMALL,
            "a short read in a message does not grow it"
        );
        buffer.after_read(SMALL, true);
        assert_eq!(buffer.len(), LARGE);
        buffer.after_read(LARGE, true);
        assert_eq!(buffer.len(), LARGE, "it never grows past LARGE");
        assert_eq!(buffer.space().len(), LARGE);
    }

    #[test]
    fn shrinks_back_when_the_message_ends() {
        let mut buffer = ReadBuffer::new();
        buffer.after_read(SMALL, true);
        buffer.message_ended();
        assert_eq!(buffer.len(), SMALL);
        assert!(
            buffer.bytes.capacity() < LARGE,
            "the large allocation went back"
        );
        buffer.message_ended();
        assert_eq!(buffer.len(), SMALL);
    }

    #[test]
    fn filled_is_the_prefix_that_was_read() {
        let mut buffer = ReadBuffer::new();
        buffer.space()[..3].copy_from_slice(b"abc");
        assert_eq!(buffer.filled(3), b"abc");
        assert_eq!(buffer.filled(SMALL + 5).len(), SMALL);
    }
}
