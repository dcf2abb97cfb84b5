//! What a finished handshake negotiated, in the words sendmail logs use.

use rustls::{CipherSuite, CommonState, ProtocolVersion};
use rustls_pki_types::CertificateDer;

/// The negotiated parameters of one TLS session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// `TLSv1.3` or `TLSv1.2`, as sendmail's `version=` shows it.
    pub version: &'static str,
    /// The OpenSSL name of the cipher suite, as sendmail's `cipher=` shows it:
    /// `TLS_AES_256_GCM_SHA384`, `ECDHE-ECDSA-AES256-GCM-SHA384`.
    pub cipher: String,
    /// Symmetric key bits (sendmail's `bits=N/N`): 128 or 256.
    pub bits: u16,
    /// The peer's end-entity certificate, when it sent one.
    pub peer_certificate: Option<CertificateDer<'static>>,
}

/// Summarizes a connection whose handshake has completed; `None` while handshaking.
pub fn summarize(conn: &CommonState) -> Option<SessionSummary> {
    if conn.is_handshaking() {
        return None;
    }
    let suite = conn.negotiated_cipher_suite()?.suite();
    let (cipher, bits) = openssl_name(suite);
    Some(SessionSummary {
        version: version_name(conn.protocol_version()?),
        cipher,
        bits,
        peer_certificate: conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .cloned(),
    })
}

fn version_name(version: ProtocolVersion) -> &'static str {
    match version {
        ProtocolVersion::TLSv1_3 => "TLSv1.3",
        ProtocolVersion::TLSv1_2 => "TLSv1.2",
        ProtocolVersion::TLSv1_1 => "TLSv1.1",
        ProtocolVersion::TLSv1_0 => "TLSv1",
        _ => "unknown",
    }
}

/// The suites the ring provider offers, by OpenSSL name and key bits. Any other suite
/// (only possible with another provider) is shown by its IANA name.
fn openssl_name(suite: CipherSuite) -> (String, u16) {
    let (name, bits) = match suite {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => ("TLS_AES_128_GCM_SHA256", 128),
        CipherSuite::TLS13_AES_256_GCM_SHA384 => ("TLS_AES_256_GCM_SHA384", 256),
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => ("TLS_CHACHA20_POLY1305_SHA256", 256),
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => {
            ("ECDHE-ECDSA-AES128-GCM-SHA256", 128)
        }
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => {
            ("ECDHE-ECDSA-AES256-GCM-SHA384", 256)
        }
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
            ("ECDHE-ECDSA-CHACHA20-POLY1305", 256)
        }
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => ("ECDHE-RSA-AES128-GCM-SHA256", 128),
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => ("ECDHE-RSA-AES256-GCM-SHA384", 256),
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => {
            ("ECDHE-RSA-CHACHA20-POLY1305", 256)
        }
        other => {
            return (
                format!("{other:?}"),
                bits_from_iana_name(&format!("{other:?}")),
            )
        }
    };
    (name.to_owned(), bits)
}

/// IANA names put the cipher's key size between underscores (`AES_256_CBC`) and the
/// hash at the end (`SHA256`), so only the former counts.
fn bits_from_iana_name(name: &str) -> u16 {
    if name.contains("_256_") || name.contains("CHACHA20") {
        256
    } else {
        128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ring_suite_has_an_openssl_name_and_bits() {
        for supported in rustls::crypto::ring::ALL_CIPHER_SUITES {
            let (name, bits) = openssl_name(supported.suite());
            assert!(
                !name.starts_with("TLS13_") && !name.contains("_WITH_"),
                "{name}"
            );
            assert!(bits == 128 || bits == 256, "{name}: {bits}");
        }
    }

    #[test]
    fn bits_follow_the_cipher_not_the_hash() {
        assert_eq!(openssl_name(CipherSuite::TLS13_AES_128_GCM_SHA256).1, 128);
        assert_eq!(openssl_name(CipherSuite::TLS13_AES_256_GCM_SHA384).1, 256);
        assert_eq!(bits_from_iana_name("TLS_RSA_WITH_AES_256_CBC_SHA256"), 256);
        assert_eq!(bits_from_iana_name("TLS_RSA_WITH_AES_128_CBC_SHA256"), 128);
    }
}
