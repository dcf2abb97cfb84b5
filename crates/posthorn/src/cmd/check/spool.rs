//! The spool directory: it exists or can be created, Posthorn can write to it, and
//! the filesystem under it keeps what was fsynced.
//!
//! The check does what the spool does before it answers `250`: write a file, fsync
//! it, fsync the directory. Everything it creates (the probe file, missing
//! directories) is removed again, so `posthorn check` leaves no trace. A spool on
//! tmpfs or ramfs passes every fsync but forgets all mail at a reboot: a warning.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::finding::{Finding, Location, Severity};
use super::source::ConfigSource;

/// `statfs` magic numbers of filesystems that live in memory (linux/magic.h).
const TMPFS_MAGIC: u64 = 0x0102_1994;
const RAMFS_MAGIC: u64 = 0x8584_58f6;

/// Findings for the spool directory `spool` (the `spool` key of the config).
pub fn check_spool(spool: &Path, source: &ConfigSource) -> Vec<Finding> {
    let location = source.key("", "spool");
    let created = match create_missing(spool) {
        Ok(created) => created,
        Err(error) => {
            return vec![unwritable(
                spool,
                location,
                &format!("it does not exist and cannot be created: {error}"),
            )]
        }
    };
    let mut findings = Vec::new();
    if let Err(problem) = probe(spool) {
        findings.push(unwritable(spool, location.clone(), &problem));
    } else if let Some(filesystem) = memory_filesystem(spool) {
        findings.push(Finding {
            severity: Severity::Warning,
            check: "spool-volatile",
            location,
            problem: format!("the spool {} is on {filesystem}: queued mail lives in memory and is lost at a reboot or power failure, although Posthorn has acknowledged it", spool.display()),
            fix: "set `spool` to a directory on a disk filesystem (e.g. /var/spool/posthorn)".to_owned(),
        });
    }
    // Only what this check made is removed, deepest first; a leftover empty directory
    // is harmless, so a failure here is not a finding.
    for directory in created.iter().rev() {
        let _ = std::fs::remove_dir(directory);
    }
    findings
}

fn unwritable(spool: &Path, location: Location, problem: &str) -> Finding {
    Finding {
        severity: Severity::Error,
        check: "spool-unwritable",
        location,
        problem: format!("the spool {}: {problem}; Posthorn could not accept any mail", spool.display()),
        fix: format!("create {} as a directory owned by the user Posthorn runs as (mkdir -p, chown), or set `spool` to one that is", spool.display()),
    }
}

/// Creates `spool` and its missing parents; returns the directories it created.
fn create_missing(spool: &Path) -> std::io::Result<Vec<PathBuf>> {
    let missing: Vec<PathBuf> = spool
        .ancestors()
        .take_while(|path| !path.as_os_str().is_empty() && std::fs::symlink_metadata(path).is_err())
        .map(Path::to_owned)
        .collect();
    let mut created = Vec::new();
    for directory in missing.into_iter().rev() {
        std::fs::create_dir(&directory)?;
        created.push(directory);
    }
    if !std::fs::metadata(spool)?.is_dir() {
        return Err(std::io::Error::other("it is not a directory"));
    }
    Ok(created)
}

/// Writes, fsyncs and removes a file, and fsyncs the directory, as a commit does.
fn probe(spool: &Path) -> Result<(), String> {
    let path = spool.join(format!(".posthorn-check-{}", std::process::id()));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|error| format!("cannot create a file in it: {error}"))?;
    let written = file
        .write_all(b"posthorn check\n")
        .map_err(|error| format!("cannot write a file in it: {error}"))
        .and_then(|()| {
            file.sync_all()
                .map_err(|error| format!("fsync of a file fails: {error}"))
        });
    let removed = std::fs::remove_file(&path)
        .map_err(|error| format!("cannot remove a file from it: {error}"));
    written?;
    removed?;
    File::open(spool)
        .and_then(|directory| directory.sync_all())
        .map_err(|error| format!("fsync of the directory fails: {error}"))
}

/// The name of the in-memory filesystem `path` is on, if it is on one.
fn memory_filesystem(path: &Path) -> Option<&'static str> {
    let stat = rustix::fs::statfs(path).ok()?;
    // `f_type` is signed on some targets; the magic numbers are 32-bit patterns.
    #[allow(clippy::unnecessary_cast)]
    let magic = (stat.f_type as u64) & 0xffff_ffff;
    match magic {
        TMPFS_MAGIC => Some("tmpfs"),
        RAMFS_MAGIC => Some("ramfs"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> ConfigSource {
        ConfigSource::new("p.toml", "hostname = \"mx.example.com\"\nspool = \"/x\"\n")
    }

    #[test]
    fn a_writable_spool_has_no_findings() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(check_spool(dir.path(), &source()), []);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "the probe file is removed"
        );
    }

    #[test]
    fn a_missing_spool_is_created_for_the_check_and_removed_again() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("a/b/spool");
        assert_eq!(check_spool(&spool, &source()), []);
        assert!(!dir.path().join("a").exists());
    }

    #[test]
    fn a_spool_under_a_file_is_an_error_at_the_spool_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("afile"), "").unwrap();
        let findings = check_spool(&dir.path().join("afile/spool"), &source());
        assert_eq!(findings.len(), 1);
        assert_eq!(
            (findings[0].severity, findings[0].check),
            (Severity::Error, "spool-unwritable")
        );
        assert_eq!(findings[0].location.line, Some(2));
    }

    #[test]
    fn a_spool_that_is_a_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("afile");
        std::fs::write(&file, "").unwrap();
        let findings = check_spool(&file, &source());
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0].problem.contains("not a directory"),
            "{}",
            findings[0]
        );
    }

    #[test]
    fn a_disk_filesystem_is_not_volatile() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        assert_eq!(memory_filesystem(dir.path()), None);
    }

    #[test]
    fn a_spool_on_tmpfs_is_a_warning() {
        // /dev/shm is tmpfs on Linux systems and containers alike.
        let shm = Path::new("/dev/shm");
        assert_eq!(memory_filesystem(shm), Some("tmpfs"));
        let dir = tempfile::tempdir_in(shm).unwrap();
        let findings = check_spool(dir.path(), &source());
        assert_eq!(findings.len(), 1);
        assert_eq!(
            (findings[0].severity, findings[0].check),
            (Severity::Warning, "spool-volatile")
        );
    }
}
