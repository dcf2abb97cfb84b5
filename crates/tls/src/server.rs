//! The rustls server configuration for inbound STARTTLS and smtps.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{InconsistentKeys, RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::client_auth::RequestClientCertificate;
use crate::{load_chain, load_private_key, CertifiedKeyPaths, TlsError};

/// Whether inbound connections are asked for a client certificate.
#[derive(Debug, Clone)]
pub enum ClientCertRequest {
    /// Never ask (sendmail's `Srv_Features: V`, the default).
    None,
    /// Ask, naming `roots` as acceptable issuers, but let the handshake go on with
    /// no certificate or an unverifiable one, as sendmail does: the outcome is a
    /// `${verify}` value for policy (see [`crate::verify_client_chain`]), not a
    /// handshake failure that would push the client back to plaintext.
    Request { roots: Arc<RootCertStore> },
}

/// The crypto provider every configuration of this crate uses.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the server configuration from a certificate chain and key on disk: TLS 1.2
/// and 1.3, no ALPN (SMTP does not use it). Fails with [`TlsError::KeyMismatch`] when
/// the key does not belong to the certificate.
pub fn server_config(
    paths: &CertifiedKeyPaths,
    request: ClientCertRequest,
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = load_chain(&paths.certificate)?;
    let key = load_private_key(&paths.private_key)?;
    let certified = check_key_matches(paths, chain, key)?;
    let provider = provider();
    let config_error = |error: rustls::Error| TlsError::Config {
        certificate: paths.certificate.clone(),
        key: paths.private_key.clone(),
        reason: error.to_string(),
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(config_error)?;
    let builder = match request {
        ClientCertRequest::None => builder.with_no_client_auth(),
        ClientCertRequest::Request { roots } => builder
            .with_client_cert_verifier(Arc::new(RequestClientCertificate::new(&roots, &provider))),
    };
    let mut config = builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    // One TLS 1.3 ticket, not rustls' two: a returning client uses one per connection
    // and gets a fresh one each time; the second cost ~12% on one-message sessions.
    config.send_tls13_tickets = 1;
    Ok(Arc::new(config))
}

/// Loads the key into the provider and checks that its public half is the one in
/// the chain's first certificate.
pub(crate) fn check_key_matches(
    paths: &CertifiedKeyPaths,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<CertifiedKey, TlsError> {
    let signing_key = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|error| TlsError::UnusableKey {
            path: paths.private_key.clone(),
            reason: error.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        // Unknown: the key cannot tell its public half; rustls itself accepts that.
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::KeyMismatch {
                key: paths.private_key.clone(),
                certificate: paths.certificate.clone(),
            })
        }
        Err(other) => Err(TlsError::InvalidCertificate {
            path: paths.certificate.clone(),
            reason: other.to_string(),
        }),
    }
}
