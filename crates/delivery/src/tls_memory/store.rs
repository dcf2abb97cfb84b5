//! The memory's file: one entry per line (`key until recorded reason`, times in Unix
//! seconds), read when the file changed and rewritten atomically.
//!
//! A rewrite goes to a temporary file in the same directory, is fsynced, renamed over
//! the old file, and the directory is fsynced: a crash leaves the old memory or the new
//! one, never half of one. Changes by another process (the CLI while the daemon runs)
//! are noticed by the file's identity (inode, size, mtime, ctime) changing.

use std::collections::BTreeMap;
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::normalize_key;

const HEADER: &str = "# Posthorn's broken-TLS memory: deliveries to these hosts and IPs skip STARTTLS\n\
                      # until the time given. Managed by `posthorn tls-memory`; edits are re-read.\n\
                      # key until(unix seconds) recorded(unix seconds) [with=KEY] reason\n";

/// What one key maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub until: SystemTime,
    pub recorded: SystemTime,
    pub reason: String,
    /// The other key the same failure was remembered under (a host and its address),
    /// so forgetting one forgets both.
    pub with: Option<String>,
}

impl Entry {
    /// An entry with both times in whole seconds, as the file keeps them, so what is
    /// in memory and what a restart reads back are the same; `reason` on one line.
    pub fn new(until: SystemTime, recorded: SystemTime, reason: &str) -> Entry {
        Entry {
            until: from_unix(to_unix(until)),
            recorded: from_unix(to_unix(recorded)),
            reason: one_line(reason),
            with: None,
        }
    }
}

/// What a file looked like when it was read or written; a different identity means
/// someone else changed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    device: u64,
    inode: u64,
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl Stamp {
    fn of(metadata: &Metadata) -> Stamp {
        Stamp {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.size(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }
}

/// The entries as last read or written, and the file they came from.
#[derive(Debug, Default)]
pub(super) struct Snapshot {
    pub entries: BTreeMap<String, Entry>,
    /// `None`: no file (or not read yet).
    pub stamp: Option<Stamp>,
}

impl Snapshot {
    /// Re-reads `path` if it is not the file last seen. A missing file is an empty
    /// memory; an unreadable one keeps what was known, with a warning.
    pub fn refresh(&mut self, path: &Path) {
        match fs::metadata(path) {
            Ok(metadata) if self.stamp == Some(Stamp::of(&metadata)) => {}
            Ok(_) => self.reload(path),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                self.entries.clear();
                self.stamp = None;
            }
            Err(error) => warn_unreadable(path, &error),
        }
    }

    fn reload(&mut self, path: &Path) {
        match read(path) {
            Ok((text, stamp)) => {
                self.entries = parse(&text, path);
                self.stamp = Some(stamp);
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                self.entries.clear();
                self.stamp = None;
            }
            Err(error) => warn_unreadable(path, &error),
        }
    }
}

/// The text and the identity of the file that was read (taken from the open file, so
/// they belong together even if the file is replaced meanwhile).
fn read(path: &Path) -> io::Result<(String, Stamp)> {
    let mut file = File::open(path)?;
    let stamp = Stamp::of(&file.metadata()?);
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok((text, stamp))
}

fn warn_unreadable(path: &Path, error: &io::Error) {
    tracing::warn!(file = %path.display(), %error, "cannot read the broken-TLS memory; using what was known before");
}

/// The entries of `text`; malformed lines are skipped with a warning naming them.
pub(super) fn parse(text: &str, path: &Path) -> BTreeMap<String, Entry> {
    let mut entries = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Some((key, entry)) => {
                entries.insert(key, entry);
            }
            None => tracing::warn!(
                file = %path.display(),
                line = index + 1,
                text = line,
                "malformed line in the broken-TLS memory skipped (expected: key until recorded reason)"
            ),
        }
    }
    entries
}

fn parse_line(line: &str) -> Option<(String, Entry)> {
    let (key, rest) = next_field(line)?;
    let (until, rest) = next_field(rest)?;
    let (recorded, rest) = next_field(rest).unwrap_or((rest, ""));
    let (with, reason) = match rest.strip_prefix("with=") {
        Some(linked) => {
            let (other, reason) = next_field(linked).unwrap_or((linked, ""));
            (Some(normalize_key(other)), reason)
        }
        None => (None, rest),
    };
    let key = normalize_key(key);
    if key.is_empty() || recorded.is_empty() {
        return None;
    }
    Some((
        key,
        Entry {
            until: from_unix(until.parse().ok()?),
            recorded: from_unix(recorded.parse().ok()?),
            reason: reason.trim().to_owned(),
            with: with.filter(|other| !other.is_empty()),
        },
    ))
}

/// The text up to the first whitespace, and what follows it (leading space removed).
fn next_field(text: &str) -> Option<(&str, &str)> {
    let (field, rest) = text.split_once(char::is_whitespace)?;
    Some((field, rest.trim_start()))
}

/// The file's text for `entries`.
pub(super) fn format(entries: &BTreeMap<String, Entry>) -> String {
    let mut text = String::from(HEADER);
    for (key, entry) in entries {
        let with = entry
            .with
            .as_ref()
            .map(|other| format!("with={other} "))
            .unwrap_or_default();
        let line = format!(
            "{key} {} {} {with}{}",
            to_unix(entry.until),
            to_unix(entry.recorded),
            entry.reason
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// `reason` on one line: a line break in it would end the entry.
fn one_line(reason: &str) -> String {
    let cleaned: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cleaned.trim().to_owned()
}

/// Replaces the file with `entries`: temporary file, fsync, rename, directory fsync.
/// Returns the new file's identity (`None` if it could not be taken: the next lookup
/// then simply re-reads the file).
pub(super) fn write_atomically(
    path: &Path,
    entries: &BTreeMap<String, Entry>,
) -> io::Result<Option<Stamp>> {
    let directory = parent_directory(path);
    let temporary = temporary_path(path);
    let written = write_synced(&temporary, format(entries).as_bytes())
        .and_then(|file| fs::rename(&temporary, path).map(|()| file));
    let file = match written {
        Ok(file) => file,
        Err(error) => {
            // Best effort: the write already failed, and a leftover only wastes space.
            let _ = fs::remove_file(&temporary);
            return Err(error);
        }
    };
    File::open(directory)?.sync_all()?;
    // The open handle still names our inode, even if someone renamed over it since.
    Ok(file.metadata().ok().map(|metadata| Stamp::of(&metadata)))
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<File> {
    let mut file = File::options().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(file)
}

fn parent_directory(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// A name no other writer (thread or process) uses at the same time.
fn temporary_path(path: &Path) -> PathBuf {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().map_or_else(
        || super::FILE_NAME.to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    parent_directory(path).join(format!(".{name}.{}.{sequence}.tmp", std::process::id()))
}

fn to_unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

fn from_unix(seconds: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(seconds))
        .unwrap_or(UNIX_EPOCH)
}
