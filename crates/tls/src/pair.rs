//! A certificate chain and its private key loaded together and checked to belong
//! together, for configured pairs that no server configuration checks (the client
//! certificate) and for `posthorn check`.

use rustls_pki_types::CertificateDer;

use crate::server::check_key_matches;
use crate::{load_chain, load_private_key, CertifiedKeyPaths, TlsError};

/// Loads the chain and the key of `paths` and checks that the key is the private
/// half of the first certificate's public key; returns the chain, leaf first.
///
/// Fails with [`TlsError::KeyMismatch`] when they do not belong together, and with
/// the loading errors of [`load_chain`] and [`load_private_key`].
pub fn load_key_pair(paths: &CertifiedKeyPaths) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = load_chain(&paths.certificate)?;
    let key = load_private_key(&paths.private_key)?;
    check_key_matches(paths, chain.clone(), key)?;
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &tempfile::TempDir, name: &str) -> CertifiedKeyPaths {
        let key = rcgen::KeyPair::generate().expect("key");
        let params =
            rcgen::CertificateParams::new(vec![format!("{name}.example")]).expect("params");
        let certificate = params.self_signed(&key).expect("sign");
        let paths = CertifiedKeyPaths {
            certificate: dir.path().join(format!("{name}.pem")),
            private_key: dir.path().join(format!("{name}.key")),
        };
        std::fs::write(&paths.certificate, certificate.pem()).expect("write certificate");
        std::fs::write(&paths.private_key, key.serialize_pem()).expect("write key");
        paths
    }

    #[test]
    fn a_matching_pair_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = write_pair(&dir, "one");
        let chain = load_key_pair(&paths).expect("matching pair");
        assert_eq!(chain.len(), 1);
    }

    #[test]
    fn a_key_from_another_pair_is_a_mismatch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let one = write_pair(&dir, "one");
        let two = write_pair(&dir, "two");
        let crossed = CertifiedKeyPaths {
            certificate: one.certificate,
            private_key: two.private_key,
        };
        let error = load_key_pair(&crossed).expect_err("crossed pair");
        assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error}");
    }

    #[test]
    fn a_missing_key_names_the_key_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut paths = write_pair(&dir, "one");
        paths.private_key = dir.path().join("absent.key");
        let error = load_key_pair(&paths).expect_err("no key file");
        assert!(
            matches!(&error, TlsError::Read { path, .. } if path == &paths.private_key),
            "{error}"
        );
    }
}
