//! Reading PEM certificate chains and private keys from files.

use std::path::Path;

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::TlsError;

/// Reads every `CERTIFICATE` section of a PEM file, leaf first as the file orders them.
pub fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error(path, error))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

/// Reads the first private key of a PEM file: PKCS#8 (`PRIVATE KEY`), SEC1
/// (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`).
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|error| match error {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            path: path.to_owned(),
        },
        other => pem_error(path, other),
    })
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn pem_error(path: &Path, error: pem::Error) -> TlsError {
    TlsError::Pem {
        path: path.to_owned(),
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write test file");
        path
    }

    #[test]
    fn missing_file_names_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("absent.pem");
        let error = load_chain(&path).expect_err("file is absent");
        assert!(matches!(error, TlsError::Read { .. }));
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("cannot read {}: ", path.display())),
            "{text}"
        );
    }

    #[test]
    fn file_without_certificate_is_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "empty.pem", "just some text\n");
        let error = load_chain(&path).expect_err("no certificate");
        assert_eq!(
            error.to_string(),
            format!("{}: no certificate found", path.display())
        );
    }

    #[test]
    fn file_without_key_is_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "key.pem", "no key here\n");
        let error = load_private_key(&path).expect_err("no key");
        assert_eq!(
            error.to_string(),
            format!("{}: no private key found", path.display())
        );
    }

    #[test]
    fn broken_pem_is_a_pem_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "cut.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n");
        let error = load_chain(&path).expect_err("section never ends");
        assert!(matches!(error, TlsError::Pem { .. }), "{error}");
    }

    #[test]
    fn all_three_key_encodings_load() {
        let key = rcgen::KeyPair::generate().expect("key");
        let dir = tempfile::tempdir().expect("tempdir");
        let pkcs8 = write(&dir, "pkcs8.pem", &key.serialize_pem());
        assert!(matches!(
            load_private_key(&pkcs8),
            Ok(PrivateKeyDer::Pkcs8(_))
        ));
        let sec1 = write(&dir, "sec1.pem", SEC1_P256);
        assert!(matches!(
            load_private_key(&sec1),
            Ok(PrivateKeyDer::Sec1(_))
        ));
        let pkcs1 = write(&dir, "pkcs1.pem", PKCS1_RSA_HEADER_ONLY);
        assert!(matches!(
            load_private_key(&pkcs1),
            Ok(PrivateKeyDer::Pkcs1(_))
        ));
    }

    // The loader sorts keys by PEM label and leaves parsing the key to the crypto
    // provider, so label-only fixtures are enough here.
    const SEC1_P256: &str = "-----BEGIN EC PRIVATE KEY-----
MAA=
-----END EC PRIVATE KEY-----
";
    const PKCS1_RSA_HEADER_ONLY: &str = "-----BEGIN RSA PRIVATE KEY-----
MAA=
-----END RSA PRIVATE KEY-----
";
}
