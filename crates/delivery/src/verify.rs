//! The outcome of a TLS session as sendmail's `${verify}` reports it (SPEC §4), and the
//! certificate check behind it.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// sendmail's `${verify}` values that delivery produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// The certificate chains to a trust anchor and names the host.
    Ok,
    /// A certificate was presented but did not verify.
    Fail,
    /// No certificate was presented.
    No,
    /// No STARTTLS (not offered, or not attempted).
    None,
    /// STARTTLS turned off for a plaintext retry after a failure.
    Clear,
    /// The TLS handshake failed.
    Software,
    /// SMTP-level STARTTLS failure (a non-220 reply).
    Protocol,
}

impl fmt::Display for Verify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verify::Ok => "OK",
            Verify::Fail => "FAIL",
            Verify::No => "NO",
            Verify::None => "NONE",
            Verify::Clear => "CLEAR",
            Verify::Software => "SOFTWARE",
            Verify::Protocol => "PROTOCOL",
        })
    }
}

/// Accepts any server certificate during the handshake (opportunistic TLS must not fail
/// on an unverifiable certificate, SPEC §4.3) while still checking the handshake
/// signatures, so the peer holds the key of the certificate it showed. Whether the
/// certificate verifies is decided afterwards by [`check_certificate`] and only logged
/// or enforced by policy.
#[derive(Debug)]
pub(crate) struct RecordOnlyVerifier {
    provider: Arc<CryptoProvider>,
}

impl RecordOnlyVerifier {
    pub(crate) fn new(provider: Arc<CryptoProvider>) -> Self {
        RecordOnlyVerifier { provider }
    }
}

impl ServerCertVerifier for RecordOnlyVerifier {
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
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Checks a presented chain against the trust anchors with `host` as the reference
/// identity: `OK`, or `FAIL` with the reason; `NO` when nothing was presented.
pub(crate) fn check_certificate(
    verifier: &WebPkiServerVerifier,
    chain: Option<&[CertificateDer<'static>]>,
    host: &str,
) -> (Verify, Option<String>) {
    let Some((leaf, intermediates)) = chain.and_then(|chain| chain.split_first()) else {
        return (Verify::No, None);
    };
    let name = match ServerName::try_from(host.trim_end_matches('.').to_owned()) {
        Ok(name) => name,
        Err(error) => return (Verify::Fail, Some(format!("bad host name {host}: {error}"))),
    };
    match verifier.verify_server_cert(leaf, intermediates, &name, &[], UnixTime::now()) {
        Ok(_) => (Verify::Ok, None),
        Err(error) => (Verify::Fail, Some(error.to_string())),
    }
}
