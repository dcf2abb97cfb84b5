//! What an inbound TLS session established about the client (cipher, `${verify}`,
//! certificate names), and whether that meets the client's `TLS_Clt:` requirement,
//! with the reply a `MAIL` gets when it does not.

use std::sync::Arc;

use posthorn_policy::{CommonName, RequirementFailure, TlsRequirement};
use posthorn_proto::{EnhancedStatus, Reply};
use posthorn_tls::rustls::RootCertStore;
use posthorn_tls::{CertificateNames, ClientVerify, SessionSummary};
use thiserror::Error;

use crate::stream::Stream;

/// The TLS facts of one session, taken once after the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InboundTls {
    pub(crate) summary: SessionSummary,
    pub(crate) verify: ClientVerify,
    /// Subject and issuer of the client's certificate, when one came.
    pub(crate) names: Option<CertificateNames>,
    /// The certificate's DNS names (SAN, else CN), for `+CN:name`.
    pub(crate) dns_names: Vec<String>,
}

impl InboundTls {
    /// The facts of a finished handshake on `stream`; `requested_with` holds the trust
    /// anchors when a client certificate was requested. `None` for plaintext.
    pub(crate) fn of(stream: &Stream, requested_with: Option<&Arc<RootCertStore>>) -> Option<Self> {
        let state = stream.tls_state()?;
        let summary = posthorn_tls::summarize(state)?;
        let verify = posthorn_tls::client_verify(requested_with, state.peer_certificates());
        let leaf = summary.peer_certificate.as_ref();
        Some(InboundTls {
            names: leaf.and_then(posthorn_tls::certificate_names),
            dns_names: leaf
                .and_then(|leaf| posthorn_tls::describe(leaf).ok())
                .map(|info| info.names)
                .unwrap_or_default(),
            verify,
            summary,
        })
    }
}

/// Why a client does not meet its `TLS_Clt:` requirement.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum ClientTlsUnmet {
    #[error("no STARTTLS")]
    NoTls,
    #[error("no verified client certificate (verify={0})")]
    NotVerified(&'static str),
    #[error("the client certificate did not verify")]
    VerifyFailed,
    #[error("the cipher has {have} bits, at least {need} required")]
    TooFewBits { have: u16, need: u32 },
    #[error("the client certificate does not carry the name {0}")]
    NameMismatch(String),
    #[error("the client certificate's subject is not {0}")]
    SubjectMismatch(String),
    #[error("the client certificate's issuer is not {0}")]
    IssuerMismatch(String),
}

/// Checks `tls` (`None`: no TLS) against `requirement`, in the order of the variants.
pub(crate) fn check_client_tls(
    requirement: &TlsRequirement,
    tls: Option<&InboundTls>,
) -> Result<(), ClientTlsUnmet> {
    let tls = tls.ok_or(ClientTlsUnmet::NoTls)?;
    if requirement.verify {
        match &tls.verify {
            ClientVerify::Ok => {}
            ClientVerify::Fail(_) => return Err(ClientTlsUnmet::VerifyFailed),
            other => return Err(ClientTlsUnmet::NotVerified(other.as_str())),
        }
    }
    if let Some(need) = requirement.min_bits {
        if u32::from(tls.summary.bits) < need {
            let have = tls.summary.bits;
            return Err(ClientTlsUnmet::TooFewBits { have, need });
        }
    }
    check_names(requirement, tls)
}

/// `+CN:name`, `+CS:subject`, `+CI:issuer`. A bare `+CN` names the client's host
/// name, which we do not know without reverse DNS, so it is never met.
fn check_names(requirement: &TlsRequirement, tls: &InboundTls) -> Result<(), ClientTlsUnmet> {
    if let Some(common_name) = &requirement.common_name {
        let want = match common_name {
            CommonName::Name(name) => name.as_str(),
            CommonName::HostName => "(the client's host name)",
        };
        let carries = |name: &String| posthorn_tls::name_covers(name, want);
        if !tls.dns_names.iter().any(carries) {
            return Err(ClientTlsUnmet::NameMismatch(want.to_owned()));
        }
    }
    let names = tls.names.as_ref();
    if let Some(subject) = &requirement.subject {
        if !names.is_some_and(|names| names.subject.eq_ignore_ascii_case(subject)) {
            return Err(ClientTlsUnmet::SubjectMismatch(subject.clone()));
        }
    }
    if let Some(issuer) = &requirement.issuer {
        if !names.is_some_and(|names| names.issuer.eq_ignore_ascii_case(issuer)) {
            return Err(ClientTlsUnmet::IssuerMismatch(issuer.clone()));
        }
    }
    Ok(())
}

impl ClientTlsUnmet {
    /// The reply to `MAIL`: sendmail's `403 4.7.0` (try later, perhaps with TLS or a
    /// certificate), or `550 5.7.0` for a `PERM+` requirement.
    pub(crate) fn reply(&self, failure: RequirementFailure) -> Reply {
        let (code, class) = match failure {
            RequirementFailure::Temporary => (403, 4),
            RequirementFailure::Permanent => (550, 5),
        };
        let text = match self {
            ClientTlsUnmet::NoTls => "TLS required: use STARTTLS before MAIL".to_owned(),
            ClientTlsUnmet::NotVerified(_) => {
                "not authenticated: a verified client certificate is required".to_owned()
            }
            ClientTlsUnmet::VerifyFailed => {
                "authentication failed: the client certificate did not verify".to_owned()
            }
            ClientTlsUnmet::TooFewBits { have, need } => {
                format!("encryption too weak: {have} bits, at least {need} required")
            }
            ClientTlsUnmet::NameMismatch(_)
            | ClientTlsUnmet::SubjectMismatch(_)
            | ClientTlsUnmet::IssuerMismatch(_) => {
                "client certificate not accepted by TLS policy".to_owned()
            }
        };
        Reply::new(code, EnhancedStatus::new(class, 7, 0), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(verify: ClientVerify, bits: u16) -> InboundTls {
        InboundTls {
            summary: SessionSummary {
                version: "TLSv1.3",
                cipher: "TLS_AES_128_GCM_SHA256".to_owned(),
                bits,
                peer_certificate: None,
            },
            verify,
            names: Some(CertificateNames {
                subject: "/CN=client.example".to_owned(),
                issuer: "/CN=Test CA".to_owned(),
            }),
            dns_names: vec!["client.example".to_owned()],
        }
    }

    fn requirement(text: &str) -> TlsRequirement {
        TlsRequirement::parse(text).expect("valid requirement")
    }

    #[test]
    fn verify_needs_a_verified_certificate() {
        let verify = requirement("VERIFY");
        let ok = session(ClientVerify::Ok, 128);
        assert_eq!(check_client_tls(&verify, Some(&ok)), Ok(()));
        let failed = session(ClientVerify::Fail("unknown issuer".into()), 256);
        assert_eq!(
            check_client_tls(&verify, Some(&failed)),
            Err(ClientTlsUnmet::VerifyFailed)
        );
        for (value, name) in [(ClientVerify::No, "NO"), (ClientVerify::Not, "NOT")] {
            assert_eq!(
                check_client_tls(&verify, Some(&session(value, 256))),
                Err(ClientTlsUnmet::NotVerified(name))
            );
        }
        assert_eq!(check_client_tls(&verify, None), Err(ClientTlsUnmet::NoTls));
    }

    #[test]
    fn encr_counts_cipher_bits_and_needs_no_certificate() {
        let encr = requirement("ENCR:256");
        let strong = session(ClientVerify::Not, 256);
        assert_eq!(check_client_tls(&encr, Some(&strong)), Ok(()));
        let weak = session(ClientVerify::Ok, 128);
        assert_eq!(
            check_client_tls(&encr, Some(&weak)),
            Err(ClientTlsUnmet::TooFewBits {
                have: 128,
                need: 256
            })
        );
        assert_eq!(check_client_tls(&encr, None), Err(ClientTlsUnmet::NoTls));
        let both = requirement("VERIFY:256");
        assert_eq!(
            check_client_tls(&both, Some(&weak)),
            Err(ClientTlsUnmet::TooFewBits {
                have: 128,
                need: 256
            })
        );
    }

    #[test]
    fn certificate_names_are_compared() {
        let tls = session(ClientVerify::Ok, 256);
        let met = requirement("VERIFY+CN:client.example+CS:/CN=client.example+CI:/cn=test ca");
        assert_eq!(check_client_tls(&met, Some(&tls)), Ok(()));
        let other_name = requirement("VERIFY+CN:other.example");
        assert_eq!(
            check_client_tls(&other_name, Some(&tls)),
            Err(ClientTlsUnmet::NameMismatch("other.example".into()))
        );
        let bare = requirement("VERIFY+CN");
        assert!(check_client_tls(&bare, Some(&tls)).is_err());
        let other_issuer = requirement("ENCR:128+CI:/CN=Other CA");
        assert_eq!(
            check_client_tls(&other_issuer, Some(&tls)),
            Err(ClientTlsUnmet::IssuerMismatch("/CN=Other CA".into()))
        );
    }

    #[test]
    fn replies_are_4_7_0_or_5_7_0_for_perm() {
        let temporary = ClientTlsUnmet::NoTls.reply(RequirementFailure::Temporary);
        assert_eq!(
            temporary.to_string(),
            "403 4.7.0 TLS required: use STARTTLS before MAIL"
        );
        let weak = ClientTlsUnmet::TooFewBits {
            have: 128,
            need: 256,
        };
        assert_eq!(
            weak.reply(RequirementFailure::Permanent).to_string(),
            "550 5.7.0 encryption too weak: 128 bits, at least 256 required"
        );
        assert_eq!(
            ClientTlsUnmet::NotVerified("NO")
                .reply(RequirementFailure::Temporary)
                .to_string(),
            "403 4.7.0 not authenticated: a verified client certificate is required"
        );
    }
}
