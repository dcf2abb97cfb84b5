//! The TLS client for STARTTLS: trust anchors (`tls.ca_bundle` or the system store), the
//! rustls configuration, and what a finished handshake tells the log.

use std::io;
use std::path::Path;
use std::sync::Arc;

use posthorn_tls::CertifiedKeyPaths;
use rustls::client::WebPkiServerVerifier;
use rustls::client::{ResolvesClientCert, Resumption, WantsClientCert};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ConfigBuilder, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::verify::{check_certificate, RecordOnlyVerifier, Verify};

type ClientCertBuilder = ConfigBuilder<ClientConfig, WantsClientCert>;

/// What a finished handshake looked like, for the `STARTTLS=client` line and `to=` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOutcome {
    pub version: &'static str,
    pub cipher: String,
    pub bits: u16,
    pub verify: Verify,
    /// Why verification failed, when it did.
    pub verify_error: Option<String>,
    /// The names of the server's certificate (SAN DNS names, else CN), for `+CN` checks.
    pub peer_names: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error(transparent)]
    Certificates(#[from] posthorn_tls::TlsError),
    #[error("no trust anchors: {0}")]
    NoTrustAnchors(String),
    #[error("TLS client configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("certificate verifier: {0}")]
    Verifier(#[from] rustls::client::VerifierBuilderError),
}

/// The STARTTLS client, shared by every outbound connection.
pub struct TlsClient {
    connector: TlsConnector,
    /// `None` when there are no trust anchors at all: every certificate is then `FAIL`.
    verifier: Option<Arc<WebPkiServerVerifier>>,
}

impl TlsClient {
    /// Trust anchors from `ca_bundle` (PEM), or the system store when `None`. A client
    /// certificate is presented only when one is configured (`client`), and then only to
    /// a server that asks for one: never the empty certificate of the seeds.
    pub fn new(
        ca_bundle: Option<&Path>,
        client: Option<&CertifiedKeyPaths>,
    ) -> Result<TlsClient, TlsSetupError> {
        let (builder, verifier) = client_config_builder(ca_bundle)?;
        let config = match client {
            Some(paths) => builder.with_client_auth_cert(
                posthorn_tls::load_chain(&paths.certificate)?,
                posthorn_tls::load_private_key(&paths.private_key)?,
            )?,
            None => builder.with_no_client_auth(),
        };
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            verifier,
        })
    }

    /// A client whose certificate `resolver` picks, for `posthorn probe`: the resolver
    /// sees whether the server asked for one. Session resumption is off, so that every
    /// handshake shows the full chain and any certificate request.
    pub fn with_client_cert_resolver(
        ca_bundle: Option<&Path>,
        resolver: Arc<dyn ResolvesClientCert>,
    ) -> Result<TlsClient, TlsSetupError> {
        let (builder, verifier) = client_config_builder(ca_bundle)?;
        let mut config = builder.with_client_cert_resolver(resolver);
        config.resumption = Resumption::disabled();
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            verifier,
        })
    }

    /// Runs the handshake over `tcp` with `host` as SNI and reference identity.
    pub(crate) async fn handshake(
        &self,
        tcp: TcpStream,
        host: &str,
    ) -> io::Result<(TlsStream<TcpStream>, TlsOutcome)> {
        let name = ServerName::try_from(host.trim_end_matches('.').to_owned())
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        let stream = self.connector.connect(name, tcp).await?;
        let connection = stream.get_ref().1;
        let chain = connection.peer_certificates();
        let (verify, verify_error) = match &self.verifier {
            Some(verifier) => check_certificate(verifier, chain, host),
            None if chain.is_some_and(|chain| !chain.is_empty()) => {
                (Verify::Fail, Some("no trust anchors configured".to_owned()))
            }
            None => (Verify::No, None),
        };
        let summary = posthorn_tls::summarize(connection);
        let peer_names = chain
            .and_then(|chain| chain.first())
            .and_then(|leaf| posthorn_tls::describe(leaf).ok())
            .map(|info| info.names)
            .unwrap_or_default();
        let outcome = TlsOutcome {
            version: summary.as_ref().map_or("TLS", |summary| summary.version),
            cipher: summary
                .as_ref()
                .map_or_else(String::new, |summary| summary.cipher.clone()),
            bits: summary.as_ref().map_or(0, |summary| summary.bits),
            verify,
            verify_error,
            peer_names,
        };
        Ok((stream, outcome))
    }
}

/// The rustls configuration up to the client certificate: every server certificate is
/// accepted during the handshake and checked afterwards against the trust anchors
/// (`None` without any: then every certificate is `FAIL`).
fn client_config_builder(
    ca_bundle: Option<&Path>,
) -> Result<(ClientCertBuilder, Option<Arc<WebPkiServerVerifier>>), TlsSetupError> {
    let roots = Arc::new(trust_anchors(ca_bundle)?);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = if roots.is_empty() {
        tracing::warn!("no trust anchors: outbound certificates cannot be verified");
        None
    } else {
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
                .build()?,
        )
    };
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RecordOnlyVerifier::new(provider)));
    Ok((builder, verifier))
}

fn trust_anchors(ca_bundle: Option<&Path>) -> Result<RootCertStore, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    match ca_bundle {
        Some(path) => {
            for certificate in posthorn_tls::load_chain(path)? {
                roots.add(certificate).map_err(|error| {
                    TlsSetupError::NoTrustAnchors(format!("{}: {error}", path.display()))
                })?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for certificate in native.certs {
                // A broken system certificate must not take the others down with it.
                let _ = roots.add(certificate);
            }
        }
    }
    Ok(roots)
}

/// The client certificate `config` names (`tls.client_certificate` and
/// `tls.client_private_key`), if both are set: never one invented when none is.
pub fn configured_client_certificate(
    config: &posthorn_config::Config,
) -> Option<CertifiedKeyPaths> {
    match (
        &config.tls.client_certificate,
        &config.tls.client_private_key,
    ) {
        (Some(certificate), Some(private_key)) => Some(CertifiedKeyPaths {
            certificate: certificate.clone(),
            private_key: private_key.clone(),
        }),
        _ => None,
    }
}
