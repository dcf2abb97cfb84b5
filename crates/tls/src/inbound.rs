//! What an inbound handshake tells about the client's certificate, in sendmail's
//! words: the `${verify}` value of the `STARTTLS=server` line and the
//! `cert-subject=` / `cert-issuer=` names, plus the trust anchors client chains are
//! verified against.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::objects::{oid2abbrev, oid_registry};
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use crate::{load_chain, verify_client_chain, TlsError};

/// sendmail's `${verify}` for the client side of an inbound session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientVerify {
    /// A certificate came and its chain verified against our trust anchors.
    Ok,
    /// A certificate came and did not verify; the reason is for the log.
    Fail(String),
    /// A certificate was requested and none came.
    No,
    /// No certificate was requested (`Srv_Features: V`, the default).
    Not,
}

impl ClientVerify {
    /// The value as sendmail logs it (`verify=OK`).
    pub fn as_str(&self) -> &'static str {
        match self {
            ClientVerify::Ok => "OK",
            ClientVerify::Fail(_) => "FAIL",
            ClientVerify::No => "NO",
            ClientVerify::Not => "NOT",
        }
    }
}

/// The verify value of a finished handshake: `requested_with` holds the trust anchors
/// when a certificate was requested, `chain` what the client presented (leaf first).
pub fn client_verify(
    requested_with: Option<&Arc<RootCertStore>>,
    chain: Option<&[CertificateDer<'static>]>,
) -> ClientVerify {
    let Some(roots) = requested_with else {
        return ClientVerify::Not;
    };
    match chain {
        None | Some([]) => ClientVerify::No,
        Some(chain) => match verify_client_chain(roots, chain) {
            Ok(()) => ClientVerify::Ok,
            Err(error) => ClientVerify::Fail(error.to_string()),
        },
    }
}

/// A certificate's subject and issuer as sendmail's `${cert_subject}` and
/// `${cert_issuer}` show them: OpenSSL's one-line form (`/C=US/O=Example/CN=name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateNames {
    pub subject: String,
    pub issuer: String,
}

/// The subject and issuer of `cert` in one-line form; `None` when it does not parse.
pub fn certificate_names(cert: &CertificateDer<'_>) -> Option<CertificateNames> {
    let (_, parsed) = X509Certificate::from_der(cert.as_ref()).ok()?;
    Some(CertificateNames {
        subject: one_line_name(parsed.subject()),
        issuer: one_line_name(parsed.issuer()),
    })
}

/// `/CN=name/O=org` in the certificate's own RDN order, as `X509_NAME_oneline` writes
/// it; attributes without a short name appear by OID, values that are not text as `?`.
fn one_line_name(name: &X509Name<'_>) -> String {
    let registry = oid_registry();
    name.iter_attributes()
        .map(|attribute| {
            let kind = oid2abbrev(attribute.attr_type(), registry)
                .map_or_else(|_| attribute.attr_type().to_id_string(), str::to_owned);
            let value = attribute.as_str().unwrap_or("?");
            format!("/{kind}={value}")
        })
        .collect()
}

/// Trust anchors for verifying peers: the PEM `ca_bundle`, or the system store when
/// `None` (a certificate of it that does not parse is skipped, not fatal).
pub fn trust_anchors(ca_bundle: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    match ca_bundle {
        Some(path) => {
            for certificate in load_chain(path)? {
                roots
                    .add(certificate)
                    .map_err(|error| TlsError::InvalidCertificate {
                        path: path.to_owned(),
                        reason: error.to_string(),
                    })?;
            }
        }
        None => {
            for certificate in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(certificate);
            }
        }
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named_certificate() -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(vec!["client.example".into()]).expect("p");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Example Org");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "client.example");
        params.self_signed(&key).expect("cert").der().clone()
    }

    #[test]
    fn names_are_in_openssl_one_line_form() {
        let names = certificate_names(&named_certificate()).expect("parses");
        assert_eq!(names.subject, "/O=Example Org/CN=client.example");
        assert_eq!(names.issuer, names.subject, "self-signed");
        assert_eq!(
            certificate_names(&CertificateDer::from(vec![1, 2, 3])),
            None
        );
    }

    #[test]
    fn verify_is_not_unless_requested_and_no_without_a_certificate() {
        let roots = Arc::new(RootCertStore::empty());
        let chain = [named_certificate()];
        assert_eq!(client_verify(None, Some(&chain)), ClientVerify::Not);
        assert_eq!(client_verify(Some(&roots), None), ClientVerify::No);
        assert_eq!(client_verify(Some(&roots), Some(&[])), ClientVerify::No);
        let failed = client_verify(Some(&roots), Some(&chain));
        assert!(matches!(failed, ClientVerify::Fail(_)), "{failed:?}");
        assert_eq!(failed.as_str(), "FAIL");
    }

    #[test]
    fn a_ca_bundle_without_certificates_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "no pem here\n").expect("write");
        let error = trust_anchors(Some(&path)).expect_err("empty bundle");
        assert!(error.to_string().contains("empty.pem"), "{error}");
    }
}
