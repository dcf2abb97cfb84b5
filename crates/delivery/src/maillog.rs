//! Mail log lines of delivery (SPEC §5): `STARTTLS=client` and the per-recipient `to=`.

use std::time::Duration;

use crate::connection::StartTlsFailure;
use crate::tls::TlsOutcome;
use crate::tls_memory::Remembered;

const TARGET: &str = "posthorn::mail";

pub(crate) fn starttls_client(host: &str, outcome: &TlsOutcome) {
    tracing::info!(
        target: TARGET,
        STARTTLS = "client",
        relay = %format_args!("{host}."),
        version = %outcome.version,
        verify = %outcome.verify,
        cipher = %outcome.cipher,
        bits = %format_args!("{}/{}", outcome.bits, outcome.bits),
    );
    if let Some(reason) = &outcome.verify_error {
        tracing::info!(target: TARGET, STARTTLS = "client", relay = %format_args!("{host}."), verifymsg = %reason);
    }
}

/// What delivery does after a failed STARTTLS, as the log says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsAction {
    Plaintext,
    Defer,
}

/// `STARTTLS=client, relay=host., verify=SOFTWARE, error="...", action=plaintext`.
pub(crate) fn starttls_failed(host: &str, failure: &StartTlsFailure, action: TlsAction) {
    tracing::info!(
        target: TARGET,
        STARTTLS = "client",
        relay = %format_args!("{host}."),
        verify = %failure.verify,
        error = %failure.reason,
        action = match action {
            TlsAction::Plaintext => "plaintext",
            TlsAction::Defer => "defer",
        },
    );
}

/// A destination remembered as broken: STARTTLS is skipped (`verify=CLEAR`).
pub(crate) fn starttls_skipped(host: &str, remembered: &Remembered) {
    let until = chrono::DateTime::<chrono::Utc>::from(remembered.until);
    tracing::info!(
        target: TARGET,
        STARTTLS = "client",
        relay = %format_args!("{host}."),
        verify = "CLEAR",
        reason = %format_args!("\"broken TLS remembered until {} ({})\"", until.format("%Y-%m-%d %H:%M:%S UTC"), remembered.reason),
        action = "plaintext",
    );
}

/// One `to=` line: what happened to one recipient in one attempt.
pub struct DeliveryLine<'a> {
    pub queue_id: &'a str,
    pub recipient: &'a str,
    /// Since the message arrived.
    pub delay: Duration,
    /// This attempt.
    pub xdelay: Duration,
    pub relay: Option<&'a str>,
    pub dsn: &'a str,
    /// `Sent (...)`, `Deferred: ...` or the failure reason.
    pub stat: &'a str,
    pub tls: &'a str,
    pub verify: &'a str,
    pub policy: &'a str,
}

pub fn delivery(line: &DeliveryLine<'_>) {
    tracing::info!(
        target: TARGET,
        qid = %line.queue_id,
        to = %format_args!("<{}>", line.recipient),
        delay = %hms(line.delay),
        xdelay = %hms(line.xdelay),
        mailer = "esmtp",
        relay = %line.relay.unwrap_or(""),
        dsn = %line.dsn,
        stat = %line.stat,
        tls = %line.tls,
        verify = %line.verify,
        policy = %line.policy,
    );
}

/// sendmail's `HH:MM:SS`, with `D+` in front past a day.
fn hms(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let clock = format!(
        "{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    if days > 0 {
        format!("{days}+{clock}")
    } else {
        clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_read_like_sendmail() {
        let cases = [
            (0, "00:00:00"),
            (61, "00:01:01"),
            (3_600 * 23 + 59 * 60 + 59, "23:59:59"),
            (86_400 * 4 + 12 * 3600 + 4 * 60 + 53, "4+12:04:53"),
        ];
        for (seconds, text) in cases {
            assert_eq!(hms(Duration::from_secs(seconds)), text);
        }
    }
}
