//! The password file: one `user:hash` per line, `#` comments, managed by
//! `posthorn passwd` and read by the daemon.
//!
//! The daemon keeps the parsed file and reads it again when its inode, size or mtime
//! change, so `posthorn passwd add` takes effect without a reload. Writes replace the
//! file atomically (temporary file, fsync, rename, fsync of the directory), so the
//! daemon never sees half a file and a crash never loses the old one.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use crate::hash::{check_user_name, hash_password, verify_or_spend};
use crate::{AuthError, Authenticator, BoxFuture, Verdict};

/// Only the owner may read the hashes.
const FILE_MODE: u32 = 0o600;

/// Users and their hashes from a password file; implements [`Authenticator`].
#[derive(Clone)]
pub struct PasswordFile {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    cache: Mutex<Cache>,
}

/// The file as last read.
#[derive(Default)]
struct Cache {
    /// `None` until the first read; `Some(None)` while the file does not exist.
    stamp: Option<Option<Stamp>>,
    users: HashMap<String, String>,
}

/// What tells us the file changed since we read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl PasswordFile {
    /// A backend over `path`. Nothing is read yet; a missing file means no users.
    pub fn open(path: PathBuf) -> PasswordFile {
        PasswordFile {
            shared: Arc::new(Shared {
                path,
                cache: Mutex::new(Cache::default()),
            }),
        }
    }

    /// Sets `user`'s password (argon2id), replacing the user's line if there is one.
    /// Creates the file (mode 0600) if needed.
    pub fn add(path: &Path, user: &str, password: &str) -> io::Result<()> {
        check_user_name(user).map_err(|error| invalid_input(error.to_string()))?;
        if password.is_empty() {
            return Err(invalid_input("the password is empty".to_owned()));
        }
        let hash = hash_password(password).map_err(io::Error::other)?;
        let old = read_if_exists(path)?.unwrap_or_default();
        write_atomically(path, &with_user(&old, user, &hash))
    }

    /// Removes `user`'s line; `false` (and the file untouched) when there was none.
    pub fn remove(path: &Path, user: &str) -> io::Result<bool> {
        let Some(old) = read_if_exists(path)? else {
            return Ok(false);
        };
        let (kept, removed) = without_user(&old, user);
        if removed {
            write_atomically(path, &kept)?;
        }
        Ok(removed)
    }

    /// The users in the file, in file order; none when the file does not exist.
    pub fn users(path: &Path) -> io::Result<Vec<String>> {
        let text = read_if_exists(path)?.unwrap_or_default();
        let mut seen = std::collections::HashSet::new();
        Ok(parse(&String::from_utf8_lossy(&text), path)
            .into_iter()
            .filter(|(user, _)| seen.insert(user.clone()))
            .map(|(user, _)| user)
            .collect())
    }
}

impl Authenticator for PasswordFile {
    fn verify<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
        _client: Option<IpAddr>,
    ) -> BoxFuture<'a, Result<Verdict, AuthError>> {
        let shared = Arc::clone(&self.shared);
        let (username, password) = (username.to_owned(), password.to_owned());
        Box::pin(async move {
            // Hashing takes tens of milliseconds of CPU: keep it off the async workers.
            tokio::task::spawn_blocking(move || shared.verify(&username, &password))
                .await
                .map_err(|error| {
                    AuthError::Unavailable(format!("password check failed: {error}"))
                })?
        })
    }
}

impl Shared {
    fn verify(&self, username: &str, password: &str) -> Result<Verdict, AuthError> {
        let stored = match check_user_name(username) {
            Ok(()) => self.hash_of(username)?,
            Err(_) => None,
        };
        match verify_or_spend(stored.as_deref(), password) {
            Ok(true) => Ok(Verdict::Accepted {
                identity: username.to_owned(),
            }),
            Ok(false) => Ok(Verdict::Rejected),
            Err(error) => {
                tracing::warn!(
                    "{}: the hash of user {username:?} is unusable: {error}",
                    self.path.display()
                );
                Ok(Verdict::Rejected)
            }
        }
    }

    /// The user's hash from the file as it is now.
    fn hash_of(&self, username: &str) -> io::Result<Option<String>> {
        let mut cache = self.lock();
        self.refresh(&mut cache)?;
        Ok(cache.users.get(username).cloned())
    }

    fn lock(&self) -> MutexGuard<'_, Cache> {
        // A panic while holding the lock leaves at worst a stale cache, which the
        // next refresh replaces.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the file again if it changed since the last read.
    fn refresh(&self, cache: &mut Cache) -> io::Result<()> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                *cache = Cache {
                    stamp: Some(None),
                    users: HashMap::new(),
                };
                return Ok(());
            }
            Err(error) => return Err(error),
        };
        let metadata = file.metadata()?;
        let stamp = Stamp {
            device: metadata.dev(),
            inode: metadata.ino(),
            len: metadata.len(),
            modified: metadata.modified().ok(),
        };
        if cache.stamp == Some(Some(stamp)) {
            return Ok(());
        }
        let mut text = Vec::new();
        file.read_to_end(&mut text)?;
        let mut users = HashMap::new();
        for (user, hash) in parse(&String::from_utf8_lossy(&text), &self.path) {
            // The first line of a user counts, as `users` lists it.
            users.entry(user).or_insert(hash);
        }
        *cache = Cache {
            stamp: Some(Some(stamp)),
            users,
        };
        Ok(())
    }
}

/// The `(user, hash)` pairs of the file; comments, blank and malformed lines skipped
/// (malformed ones with a warning naming file and line).
fn parse(text: &str, path: &Path) -> Vec<(String, String)> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if is_blank_or_comment(line) {
            continue;
        }
        let entry = line.split_once(':').and_then(|(user, hash)| {
            let hash = hash.trim();
            (check_user_name(user).is_ok() && !hash.is_empty())
                .then(|| (user.to_owned(), hash.to_owned()))
        });
        match entry {
            Some(entry) => entries.push(entry),
            None => tracing::warn!("{}:{}: skipped: not `user:hash`", path.display(), index + 1),
        }
    }
    entries
}

fn is_blank_or_comment(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || line.starts_with('#')
}

/// The user a raw line is for, if it is an entry line.
fn user_of(line: &[u8]) -> Option<&[u8]> {
    let text = String::from_utf8_lossy(line);
    if is_blank_or_comment(&text) {
        return None;
    }
    line.iter()
        .position(|&byte| byte == b':')
        .map(|colon| &line[..colon])
}

/// `old` with `user`'s first line replaced by `user:hash` and any later ones dropped,
/// or the line appended; every other line kept byte for byte.
fn with_user(old: &[u8], user: &str, hash: &str) -> Vec<u8> {
    let entry = format!("{user}:{hash}\n");
    let mut new = Vec::with_capacity(old.len() + entry.len() + 1);
    let mut replaced = false;
    for line in old.split_inclusive(|&byte| byte == b'\n') {
        if user_of(line) != Some(user.as_bytes()) {
            new.extend_from_slice(line);
        } else if !replaced {
            new.extend_from_slice(entry.as_bytes());
            replaced = true;
        }
    }
    if !replaced {
        if !new.is_empty() && !new.ends_with(b"\n") {
            new.push(b'\n');
        }
        new.extend_from_slice(entry.as_bytes());
    }
    new
}

/// `old` without `user`'s lines, and whether there were any.
fn without_user(old: &[u8], user: &str) -> (Vec<u8>, bool) {
    let mut kept = Vec::with_capacity(old.len());
    let mut removed = false;
    for line in old.split_inclusive(|&byte| byte == b'\n') {
        if user_of(line) == Some(user.as_bytes()) {
            removed = true;
        } else {
            kept.extend_from_slice(line);
        }
    }
    (kept, removed)
}

fn read_if_exists(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Replaces `path` with `contents` so that readers see the old file or the new one,
/// never a mix, and a crash keeps one of the two.
fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| invalid_input(format!("{} is not a file name", path.display())))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(format!(".tmp{}", std::process::id()));
    let temporary = directory.join(temporary_name);
    let result = write_new_file(&temporary, contents).and_then(|()| {
        fs::rename(&temporary, path)?;
        File::open(directory)?.sync_all()
    });
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

fn write_new_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    // A leftover from a crashed run of this same process id is ours to replace.
    let _ = fs::remove_file(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    // The umask may have taken bits away; it cannot have added any, but be exact.
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    file.write_all(contents)?;
    file.sync_all()
}

fn invalid_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests;
