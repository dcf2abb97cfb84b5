//! The probe's client certificate resolver: it hands out the configured certificate
//! exactly as delivery would (nothing when none is configured), and remembers that the
//! server asked, which rustls tells nobody else.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use posthorn_tls::CertifiedKeyPaths;
use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;

use super::facts::ClientIdentity;
use crate::tls::TlsSetupError;

/// Records each CertificateRequest; one probe runs its handshakes one after another, so
/// [`RecordingResolver::take_requested`] after a handshake belongs to that handshake.
#[derive(Debug)]
pub(crate) struct RecordingResolver {
    certificate: Option<Arc<CertifiedKey>>,
    requested: AtomicBool,
}

impl RecordingResolver {
    /// The resolver and a description of the configured certificate, if any.
    pub(crate) fn load(
        paths: Option<&CertifiedKeyPaths>,
    ) -> Result<(RecordingResolver, Option<ClientIdentity>), TlsSetupError> {
        let Some(paths) = paths else {
            return Ok((RecordingResolver::without_certificate(), None));
        };
        let chain = posthorn_tls::load_chain(&paths.certificate)?;
        let key = posthorn_tls::load_private_key(&paths.private_key)?;
        let identity = chain
            .first()
            .map(posthorn_tls::describe)
            .transpose()?
            .map(|info| ClientIdentity {
                subject: info.subject,
                names: info.names,
            });
        let provider = rustls::crypto::ring::default_provider();
        let certified = CertifiedKey::from_der(chain, key, &provider)?;
        let resolver = RecordingResolver {
            certificate: Some(Arc::new(certified)),
            requested: AtomicBool::new(false),
        };
        Ok((resolver, identity))
    }

    pub(crate) fn without_certificate() -> RecordingResolver {
        RecordingResolver {
            certificate: None,
            requested: AtomicBool::new(false),
        }
    }

    /// Whether a server asked since the last call.
    pub(crate) fn take_requested(&self) -> bool {
        self.requested.swap(false, Ordering::SeqCst)
    }
}

impl ResolvesClientCert for RecordingResolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.requested.store(true, Ordering::SeqCst);
        self.certificate.clone()
    }

    fn has_certs(&self) -> bool {
        self.certificate.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_recorded_once_and_nothing_is_sent_without_a_certificate() {
        let resolver = RecordingResolver::without_certificate();
        assert!(!resolver.take_requested());
        assert!(resolver.resolve(&[], &[]).is_none());
        assert!(resolver.take_requested());
        assert!(!resolver.take_requested());
        assert!(!resolver.has_certs());
    }
}
