//! The self-signed certificate made on first start, so that inbound STARTTLS works
//! before an administrator configures a real certificate (most MTAs deliver to
//! self-signed servers: opportunistic TLS does not verify).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::server::check_key_matches;
use crate::{load_chain, load_private_key, TlsError};

/// Where a certificate chain and its private key live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedKeyPaths {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
}

const CERTIFICATE_FILE: &str = "self-signed-cert.pem";
const PRIVATE_KEY_FILE: &str = "self-signed-key.pem";
const VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
/// Back-dating covers peers whose clocks run a little behind ours.
const BACKDATE: Duration = Duration::from_secs(60 * 60);

/// The self-signed certificate made on first start when none is configured: ECDSA
/// P-256, SAN = `hostname`, valid 10 years, kept in `dir` (the spool's `tls/`), key
/// file mode 0600. Reuses the existing pair when present and readable; returns
/// `(paths, created_now)`.
///
/// A pair that is present but unusable (corrupt, or key and certificate not matching)
/// is an error rather than silently replaced: it may be the only copy of a key
/// someone pinned. A half-written pair (one file missing) is replaced.
pub fn ensure_self_signed(
    dir: &Path,
    hostname: &str,
) -> Result<(CertifiedKeyPaths, bool), TlsError> {
    let paths = CertifiedKeyPaths {
        certificate: dir.join(CERTIFICATE_FILE),
        private_key: dir.join(PRIVATE_KEY_FILE),
    };
    if paths.certificate.exists() && paths.private_key.exists() {
        let chain = load_chain(&paths.certificate)?;
        let key = load_private_key(&paths.private_key)?;
        check_key_matches(&paths, chain, key)?;
        return Ok((paths, false));
    }
    create_dir(dir)?;
    let (certificate_pem, key_pem) = generate(dir, hostname)?;
    // Key first: a certificate file on disk then always has its key beside it.
    write_durably(&paths.private_key, key_pem.as_bytes(), 0o600)?;
    write_durably(&paths.certificate, certificate_pem.as_bytes(), 0o644)?;
    sync_dir(dir)?;
    Ok((paths, true))
}

fn generate(dir: &Path, hostname: &str) -> Result<(String, String), TlsError> {
    let failed = |error: rcgen::Error| TlsError::Generate {
        dir: dir.to_owned(),
        reason: error.to_string(),
    };
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
    let mut params = rcgen::CertificateParams::new(vec![hostname.to_owned()]).map_err(failed)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, hostname);
    let now = SystemTime::now();
    params.not_before = (now - BACKDATE).into();
    params.not_after = (now + VALIDITY).into();
    let certificate = params.self_signed(&key).map_err(failed)?;
    Ok((certificate.pem(), key.serialize_pem()))
}

fn create_dir(dir: &Path) -> Result<(), TlsError> {
    fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_owned(),
        source,
    })
}

/// Writes to a temporary name, fsyncs, then renames, so a crash never leaves a
/// truncated key or certificate under the real name.
fn write_durably(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let temporary = path.with_extension("pem.tmp");
    let write_error = |source| TlsError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = open_with_mode(&temporary, mode).map_err(write_error)?;
    file.write_all(contents).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    fs::rename(&temporary, path).map_err(write_error)
}

#[cfg(unix)]
fn open_with_mode(path: &Path, mode: u32) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
}

#[cfg(not(unix))]
fn open_with_mode(path: &Path, _mode: u32) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), TlsError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|source| TlsError::Write {
            path: dir.to_owned(),
            source,
        })
}

/// Directories cannot be opened for syncing everywhere; the rename is then as
/// durable as that platform allows.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), TlsError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::describe;

    #[test]
    fn first_call_creates_then_later_calls_reuse() {
        let spool = tempfile::tempdir().expect("tempdir");
        let dir = spool.path().join("tls");
        let (paths, created) = ensure_self_signed(&dir, "mx.example.org").expect("create");
        assert!(created);
        let first = fs::read(&paths.certificate).expect("certificate written");

        let (again, created) = ensure_self_signed(&dir, "mx.example.org").expect("reuse");
        assert!(!created);
        assert_eq!(again, paths);
        assert_eq!(fs::read(&again.certificate).expect("still there"), first);
    }

    #[test]
    fn generated_certificate_is_p256_for_the_hostname_for_ten_years() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (paths, _) = ensure_self_signed(dir.path(), "mx.example.org").expect("create");
        let chain = load_chain(&paths.certificate).expect("load");
        assert_eq!(chain.len(), 1);
        let info = describe(&chain[0]).expect("describe");
        assert_eq!(info.names, ["mx.example.org"]);
        assert!(info.self_signed);
        let lifetime = info
            .not_after
            .duration_since(info.not_before)
            .expect("not_after after not_before");
        assert!(lifetime >= VALIDITY && lifetime <= VALIDITY + 2 * BACKDATE);
        let key = fs::read_to_string(&paths.private_key).expect("key");
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
        // ecPublicKey + prime256v1 OIDs inside the PKCS#8 key.
        let der = crate::load_private_key(&paths.private_key).expect("key loads");
        let p256_oid = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        assert!(der
            .secret_der()
            .windows(p256_oid.len())
            .any(|w| w == p256_oid));
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let (paths, _) = ensure_self_signed(dir.path(), "mx.example.org").expect("create");
        let mode = fs::metadata(&paths.private_key)
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn half_written_pair_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(PRIVATE_KEY_FILE), "left over").expect("write");
        let (paths, created) = ensure_self_signed(dir.path(), "mx.example.org").expect("create");
        assert!(created);
        assert!(load_private_key(&paths.private_key).is_ok());
    }

    #[test]
    fn corrupt_pair_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (paths, _) = ensure_self_signed(dir.path(), "mx.example.org").expect("create");
        fs::write(&paths.certificate, "garbage").expect("corrupt");
        let error = ensure_self_signed(dir.path(), "mx.example.org").expect_err("corrupt");
        assert!(error
            .to_string()
            .contains(&paths.certificate.display().to_string()));
    }
}
