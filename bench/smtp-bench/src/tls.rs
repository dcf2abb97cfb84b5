//! rustls configurations for the bench tools: a client that accepts any certificate (the
//! MTAs under test use throwaway self-signed ones), a server from PEM files, and an
//! ECDSA P-256 certificate generator.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The crypto provider of every bench tool: *ring*, as Posthorn itself uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// A client connector that skips certificate verification but still checks handshake
/// signatures. Without `resume` every connection pays a full handshake, as a fleet of
/// distinct clients would (the server's worst case); with it, later connections resume
/// a session from a ticket, as one MTA sending to the same server again does.
pub fn client_connector(resume: bool) -> Result<TlsConnector> {
    Ok(TlsConnector::from(client_config(provider(), resume)?))
}

/// The configuration behind [`client_connector`], with any crypto provider.
pub fn client_config(provider: Arc<CryptoProvider>, resume: bool) -> Result<Arc<ClientConfig>> {
    let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(VERSIONS)
        .context("client TLS versions")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate { provider }))
        .with_no_client_auth();
    if !resume {
        config.resumption = Resumption::disabled();
    }
    Ok(Arc::new(config))
}

/// The name sent in SNI: none, as for an IP address, like an MTA relaying to a host.
pub fn server_name(address: std::net::SocketAddr) -> ServerName<'static> {
    ServerName::IpAddress(address.ip().into())
}

/// A server acceptor from a PEM certificate chain and a PEM private key.
pub fn server_acceptor(certificate: &Path, key: &Path) -> Result<TlsAcceptor> {
    Ok(TlsAcceptor::from(server_config(
        provider(),
        certificate,
        key,
    )?))
}

/// The configuration behind [`server_acceptor`], with any crypto provider.
pub fn server_config(
    provider: Arc<CryptoProvider>,
    certificate: &Path,
    key: &Path,
) -> Result<Arc<ServerConfig>> {
    let chain = CertificateDer::pem_file_iter(certificate)
        .with_context(|| format!("reading {}", certificate.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing {}", certificate.display()))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "no certificate in {}",
        certificate.display()
    );
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading a private key from {}", key.display()))?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(VERSIONS)
        .context("server TLS versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("certificate and key do not match")?;
    Ok(Arc::new(config))
}

/// Writes a self-signed ECDSA P-256 certificate for `hostname` and its PKCS#8 key.
pub fn write_self_signed(hostname: &str, certificate: &Path, key: &Path) -> Result<()> {
    let names = vec![hostname.to_owned(), "localhost".to_owned()];
    let generated = rcgen::generate_simple_self_signed(names).context("generating")?;
    std::fs::write(certificate, generated.cert.pem())
        .with_context(|| format!("writing {}", certificate.display()))?;
    std::fs::write(key, generated.signing_key.serialize_pem())
        .with_context(|| format!("writing {}", key.display()))?;
    Ok(())
}

/// Accepts any server certificate; the handshake signatures are still verified so the
/// cost of the handshake is the real one.
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
