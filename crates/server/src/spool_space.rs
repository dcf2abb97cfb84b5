//! Refusing new mail early when the spool's file system is nearly full.
//!
//! A message that runs out of space mid-DATA is refused anyway (`452 4.3.1`, nothing
//! acknowledged), but only after the client sent all of it. As Postfix does, `MAIL` is
//! answered `452 4.3.1 Insufficient system storage` while the free space is below
//! 1.5 × `limits.message_size`: room for the largest message we advertise plus a
//! margin for its state records and the other sessions. The check is one `statvfs`
//! per `MAIL`, so mail is accepted again as soon as space returns.

use std::path::Path;

use posthorn_proto::{EnhancedStatus, Reply};

/// Free space below which `MAIL` is refused, for a `message_size` limit.
pub(crate) fn margin(message_size: u64) -> u64 {
    message_size.saturating_add(message_size / 2)
}

/// Whether `free` bytes leave room for new mail.
pub(crate) fn has_room(free: u64, message_size: u64) -> bool {
    free >= margin(message_size)
}

/// Bytes an unprivileged writer may still use on the file system holding `path`.
pub(crate) fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let stats = rustix::fs::statvfs(path)?;
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// The refusal for `MAIL` when the spool at `path` is short of space. A spool whose
/// space cannot be read is not refused here: writing to it fails safely later.
pub(crate) fn refusal(path: &Path, message_size: u64) -> Option<Reply> {
    let free = match free_bytes(path) {
        Ok(free) => free,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot read the spool's free space");
            return None;
        }
    };
    if has_room(free, message_size) {
        return None;
    }
    tracing::warn!(
        path = %path.display(),
        free,
        needed = margin(message_size),
        "spool low on space: refusing new mail"
    );
    Some(Reply::new(
        452,
        EnhancedStatus::new(4, 3, 1),
        "Insufficient system storage",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_means_one_and_a_half_message_sizes() {
        assert_eq!(margin(10_000_000), 15_000_000);
        assert!(has_room(15_000_000, 10_000_000));
        assert!(!has_room(14_999_999, 10_000_000));
        assert!(has_room(u64::MAX, u64::MAX));
    }

    #[test]
    fn a_real_directory_has_some_free_space() {
        let free = free_bytes(&std::env::temp_dir()).unwrap_or(0);
        assert!(free > 0);
        assert!(refusal(&std::env::temp_dir(), 1).is_none());
        assert!(refusal(&std::env::temp_dir(), u64::MAX / 2).is_some());
    }
}
