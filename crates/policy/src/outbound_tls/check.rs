//! Whether a finished STARTTLS handshake (or its absence) meets a [`TlsPolicy`], and the
//! reply a delivery records when it does not.

use posthorn_proto::{EnhancedStatus, Reply};
use thiserror::Error;

use super::{TlsMode, TlsPolicy};

/// What a finished handshake offers, for the requirement check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated<'a> {
    /// The server's certificate chain verified against our trust anchors.
    pub verified: bool,
    /// The cipher's strength in bits (the first number of `bits=256/256`).
    pub bits: u16,
    /// The certificate's DNS names (subjectAltName, else the CN).
    pub names: &'a [String],
}

/// Why a session does not meet the policy.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Unmet {
    #[error("the server certificate is not verified, and the policy requires verification")]
    NotVerified,
    #[error("the cipher has {have} bits, and the policy requires at least {need}")]
    TooFewBits { have: u16, need: u32 },
    #[error("the server certificate does not carry the name {want}, which the policy requires")]
    NameMismatch { want: String },
    #[error("TLS was not established, and the policy requires it")]
    NoTls,
}

impl TlsPolicy {
    /// Ok, or why the session does not meet the policy (the caller defers with 4.7.x, or
    /// 5.7.x when permanent_failure).
    ///
    /// `None` is a session without TLS: fine unless TLS is required. Checks run in the
    /// order of the [`Unmet`] variants, and the first unmet one is returned.
    pub fn check(&self, negotiated: Option<&Negotiated<'_>>) -> Result<(), Unmet> {
        let Some(negotiated) = negotiated else {
            return if self.requires_tls() {
                Err(Unmet::NoTls)
            } else {
                Ok(())
            };
        };
        let wants_verified = self.mode == TlsMode::Verified || self.requirements.verify;
        if wants_verified && !negotiated.verified {
            return Err(Unmet::NotVerified);
        }
        if let Some(need) = self.requirements.min_bits {
            if u32::from(negotiated.bits) < need {
                return Err(Unmet::TooFewBits {
                    have: negotiated.bits,
                    need,
                });
            }
        }
        if let Some(want) = &self.requirements.common_name {
            if !negotiated.names.iter().any(|name| name_matches(name, want)) {
                return Err(Unmet::NameMismatch { want: want.clone() });
            }
        }
        Ok(())
    }
}

impl Unmet {
    /// The reply recorded for the recipients: 454 with 4.7.x, or 554 with 5.7.x when
    /// `permanent` (`PERM+`). Certificate problems are X.7.5 (cryptographic failure),
    /// missing TLS or a weak cipher X.7.4 (security features not supported), as Postfix
    /// reports them.
    pub fn reply(&self, permanent: bool) -> Reply {
        let (code, class) = if permanent { (554, 5) } else { (454, 4) };
        let detail = match self {
            Unmet::NotVerified | Unmet::NameMismatch { .. } => 5,
            Unmet::TooFewBits { .. } | Unmet::NoTls => 4,
        };
        let text = match self {
            Unmet::NotVerified => "TLS policy: server certificate not verified".to_owned(),
            Unmet::TooFewBits { have, need } => {
                format!("TLS policy: cipher too weak ({have} bits, at least {need} required)")
            }
            Unmet::NameMismatch { want } => {
                format!("TLS policy: server certificate does not match {want}")
            }
            Unmet::NoTls => "TLS policy: TLS is required, but was not established".to_owned(),
        };
        Reply::new(code, EnhancedStatus::new(class, 7, detail), text)
    }
}

/// A certificate name against the name the policy wants, ignoring case and a trailing
/// dot; `*.example.com` covers exactly one more label (RFC 6125 §6.4.3).
fn name_matches(presented: &str, wanted: &str) -> bool {
    let presented = normalize(presented);
    let wanted = normalize(wanted);
    if presented == wanted {
        return true;
    }
    match (presented.strip_prefix("*."), wanted.split_once('.')) {
        (Some(suffix), Some((label, rest))) => !label.is_empty() && rest == suffix,
        _ => false,
    }
}

fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}
