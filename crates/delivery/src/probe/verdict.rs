//! What a delivery would do at one address, decided from what the probe saw and the TLS
//! policy: a pure function, so every branch is tested without a network. It follows
//! `deliverer.rs` step by step: `Try_TLS`/config `off` first, then the broken-TLS memory,
//! then STARTTLS and its fallback, then the policy's requirements.

use std::fmt;

use posthorn_config::{PlaintextRetry, TlsFailure};
use posthorn_policy::outbound_tls::{Negotiated, PolicySource, TlsMode, TlsPolicy};
use posthorn_policy::Tag;

use super::facts::{SessionFacts, StartTlsStep};
use crate::verify::Verify;

/// The one-line answer to "what happens to mail sent there?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// TLS with a certificate that verifies.
    TlsVerified,
    /// TLS whose certificate does not verify: opportunistic delivery goes on.
    TlsUnverified { verify: Verify },
    /// STARTTLS fails and delivery reconnects without it (`next_attempt`: the attempt
    /// defers and the next one goes in plaintext, `plaintext_retry = "next_attempt"`).
    PlaintextAfterFallback { reason: String, next_attempt: bool },
    /// The server does not offer STARTTLS.
    PlaintextNotOffered,
    /// The policy turns STARTTLS off (`Try_TLS NO at access:12`, `outbound.starttls = off`).
    PlaintextByPolicy { why: String },
    /// The broken-TLS memory sends delivery straight to plaintext.
    PlaintextRemembered { reason: String },
    /// The mail stays queued.
    Defer { why: String },
    /// The policy's requirement is unmet with `PERM+`: the mail bounces.
    Bounce { why: String },
}

impl Verdict {
    /// Whether mail would leave through this address.
    pub fn delivers(&self) -> bool {
        !matches!(self, Verdict::Defer { .. } | Verdict::Bounce { .. })
    }

    /// A short stable name for scripts (`--json`).
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::TlsVerified => "tls_verified",
            Verdict::TlsUnverified { .. } => "tls_unverified",
            Verdict::PlaintextAfterFallback { .. } => "plaintext_after_fallback",
            Verdict::PlaintextNotOffered => "plaintext_not_offered",
            Verdict::PlaintextByPolicy { .. } => "plaintext_by_policy",
            Verdict::PlaintextRemembered { .. } => "plaintext_remembered",
            Verdict::Defer { .. } => "defer",
            Verdict::Bounce { .. } => "bounce",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::TlsVerified => f.write_str("TLS verified"),
            Verdict::TlsUnverified { verify } => {
                write!(f, "TLS unverified (delivered with verify={verify})")
            }
            Verdict::PlaintextAfterFallback {
                reason,
                next_attempt: false,
            } => write!(f, "plaintext after fallback (STARTTLS fails: {reason})"),
            Verdict::PlaintextAfterFallback {
                reason,
                next_attempt: true,
            } => write!(
                f,
                "plaintext after fallback at the next attempt, this one defers \
                 (STARTTLS fails: {reason})"
            ),
            Verdict::PlaintextNotOffered => f.write_str("plaintext (STARTTLS not offered)"),
            Verdict::PlaintextByPolicy { why } => write!(f, "plaintext ({why})"),
            Verdict::PlaintextRemembered { reason } => write!(
                f,
                "plaintext (STARTTLS skipped: remembered as broken: {reason})"
            ),
            Verdict::Defer { why } => write!(f, "defer: {why}"),
            Verdict::Bounce { why } => write!(f, "bounce: {why}"),
        }
    }
}

/// The `[outbound]` settings the verdict depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FallbackSettings {
    pub tls_failure: TlsFailure,
    pub plaintext_retry: PlaintextRetry,
    /// The broken-TLS memory is on (`tls_failure_memory` is not zero).
    pub memory: bool,
}

/// What the probe saw at one address.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub session: &'a SessionFacts,
    /// The plaintext reconnect, when one was made.
    pub fallback: Option<&'a SessionFacts>,
    /// The broken-TLS memory's reason, when it holds this host or address.
    pub remembered: Option<&'a str>,
}

/// What a delivery would do at one address.
pub fn verdict(policy: &TlsPolicy, settings: FallbackSettings, seen: Observed<'_>) -> Verdict {
    if let Some(why) = session_failure(seen.session) {
        return Verdict::Defer { why };
    }
    if policy.mode == TlsMode::Off {
        return Verdict::PlaintextByPolicy {
            why: policy_off_reason(policy),
        };
    }
    if let Some(reason) = seen.remembered.filter(|_| policy.allows_plaintext()) {
        return Verdict::PlaintextRemembered {
            reason: reason.to_owned(),
        };
    }
    match &seen.session.starttls {
        StartTlsStep::Established {
            tls, after: Ok(_), ..
        } => {
            let negotiated = Negotiated {
                verified: tls.verify == Verify::Ok,
                bits: tls.bits,
                names: &tls.peer_names,
            };
            match requirement_check(policy, Some(&negotiated)) {
                Some(refusal) => refusal,
                None if tls.verify == Verify::Ok => Verdict::TlsVerified,
                None => Verdict::TlsUnverified { verify: tls.verify },
            }
        }
        step => match step.failure() {
            Some(reason) => after_starttls_failure(policy, settings, reason, seen.fallback),
            None => requirement_check(policy, None).unwrap_or(Verdict::PlaintextNotOffered),
        },
    }
}

/// What a delivery would do with the whole route: the first address that takes the mail
/// decides (RFC 5321 §5.1: every address is tried in order); otherwise the last refusal,
/// or "no address answers" when none greeted.
pub fn overall<'a>(verdicts: impl IntoIterator<Item = (&'a Verdict, bool)>) -> Verdict {
    let mut last = None;
    let mut answered = false;
    for (verdict, greeted) in verdicts {
        if verdict.delivers() {
            return verdict.clone();
        }
        answered |= greeted;
        last = Some(verdict);
    }
    match last {
        Some(verdict) if answered => verdict.clone(),
        Some(verdict) => Verdict::Defer {
            why: format!("no address answers (last: {})", strip_defer(verdict)),
        },
        None => Verdict::Defer {
            why: "no address answers (no address to try)".to_owned(),
        },
    }
}

fn strip_defer(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Defer { why } | Verdict::Bounce { why } => why.clone(),
        other => other.to_string(),
    }
}

/// The session never got ready for mail: delivery tries the next address.
fn session_failure(session: &SessionFacts) -> Option<String> {
    if let Some(error) = &session.connect_error {
        return Some(format!("connect: {error}"));
    }
    session.failure.clone()
}

/// `Try_TLS NO at access:12`, or `outbound.starttls = off`.
fn policy_off_reason(policy: &TlsPolicy) -> String {
    match &policy.source {
        PolicySource::Access {
            tag: Tag::TryTls,
            line,
            ..
        } => format!("Try_TLS NO at access:{line}"),
        PolicySource::Access { tag, line, .. } => format!("{tag} at access:{line}"),
        PolicySource::Config => "outbound.starttls = off".to_owned(),
    }
}

/// The policy's requirements against the session (`None`: plaintext): the refusal, if any.
fn requirement_check(policy: &TlsPolicy, negotiated: Option<&Negotiated<'_>>) -> Option<Verdict> {
    let unmet = policy.check(negotiated).err()?;
    let permanent = policy.requirements.permanent_failure;
    let why = format!("{} (policy {})", unmet.reply(permanent), policy.label());
    Some(if permanent {
        Verdict::Bounce { why }
    } else {
        Verdict::Defer { why }
    })
}

/// STARTTLS failed: plaintext when the policy and `tls_failure` allow it and the
/// reconnect works, else defer (SPEC §4).
fn after_starttls_failure(
    policy: &TlsPolicy,
    settings: FallbackSettings,
    reason: String,
    fallback: Option<&SessionFacts>,
) -> Verdict {
    if !policy.allows_plaintext() {
        return Verdict::Defer {
            why: format!(
                "STARTTLS fails: {reason}; policy {} requires TLS",
                policy.label()
            ),
        };
    }
    if settings.tls_failure == TlsFailure::Defer {
        return Verdict::Defer {
            why: format!("STARTTLS fails: {reason}; outbound.tls_failure = defer"),
        };
    }
    let next_attempt = settings.plaintext_retry == PlaintextRetry::NextAttempt && settings.memory;
    if let Some(failure) = fallback.and_then(session_failure) {
        return Verdict::Defer {
            why: format!("STARTTLS fails: {reason}; the plaintext reconnect fails: {failure}"),
        };
    }
    Verdict::PlaintextAfterFallback {
        reason,
        next_attempt,
    }
}

#[cfg(test)]
mod tests;
