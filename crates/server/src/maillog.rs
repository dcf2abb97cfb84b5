//! The mail log events of the server (SPEC §5): one function per line kind, so the keys
//! and their order are written down once.

use chrono::{DateTime, Utc};
use posthorn_delivery::tls_memory::Remembered;
use posthorn_tls::ClientVerify;

use crate::inbound_tls::InboundTls;

const TARGET: &str = "posthorn::mail";

/// The fields of the `from=` line logged when a message is queued.
pub(crate) struct Accepted<'a> {
    pub(crate) queue_id: &'a str,
    pub(crate) sender: &'a str,
    pub(crate) size: u64,
    pub(crate) recipients: usize,
    pub(crate) message_id: Option<&'a str>,
    pub(crate) protocol: &'a str,
    pub(crate) relay: &'a str,
}

pub(crate) fn accepted(line: &Accepted<'_>) {
    tracing::info!(
        target: TARGET,
        qid = %line.queue_id,
        from = %format_args!("<{}>", line.sender),
        size = line.size,
        nrcpts = line.recipients,
        msgid = %line.message_id.unwrap_or(""),
        proto = %line.protocol,
        relay = %line.relay,
    );
}

/// `STARTTLS=server, relay=..., version=..., verify=..., cipher=..., bits=N/N`, then
/// `cert-subject=` and `cert-issuer=` (sendmail's one-line names, xtext-encoded as
/// sendmail writes its macros) when the client sent a certificate, and `reason=` when
/// that certificate did not verify.
pub(crate) fn starttls_server(relay: &str, tls: &InboundTls) {
    let summary = &tls.summary;
    let bits = format_args!("{}/{}", summary.bits, summary.bits);
    let verify = tls.verify.as_str();
    let reason = match &tls.verify {
        ClientVerify::Fail(reason) => Some(reason.as_str()),
        _ => None,
    };
    match (&tls.names, reason) {
        (None, _) => tracing::info!(
            target: TARGET, STARTTLS = "server", relay = %relay, version = %summary.version,
            verify, cipher = %summary.cipher, bits = %bits,
        ),
        (Some(names), None) => tracing::info!(
            target: TARGET, STARTTLS = "server", relay = %relay, version = %summary.version,
            verify, cipher = %summary.cipher, bits = %bits,
            "cert-subject" = %xtext(&names.subject), "cert-issuer" = %xtext(&names.issuer),
        ),
        (Some(names), Some(reason)) => tracing::info!(
            target: TARGET, STARTTLS = "server", relay = %relay, version = %summary.version,
            verify, cipher = %summary.cipher, bits = %bits,
            "cert-subject" = %xtext(&names.subject), "cert-issuer" = %xtext(&names.issuer),
            reason = %format_args!("\"{reason}\""),
        ),
    }
}

pub(crate) fn starttls_server_failed(relay: &str, reason: &str) {
    tracing::info!(
        target: TARGET,
        STARTTLS = "server",
        relay = %relay,
        verify = "SOFTWARE",
        // The log writer quotes `error=` values itself.
        error = %reason,
    );
}

/// A client remembered for a failed handshake is not offered STARTTLS this session;
/// worded as the delivery side words a remembered server.
pub(crate) fn starttls_server_skipped(relay: &str, remembered: &Remembered) {
    let until = DateTime::<Utc>::from(remembered.until).format("%Y-%m-%d %H:%M:%S UTC");
    let why = &remembered.reason;
    tracing::info!(
        target: TARGET,
        STARTTLS = "server",
        relay = %relay,
        verify = "CLEAR",
        reason = %format_args!("\"broken TLS remembered until {until} ({why})\""),
    );
}

/// sendmail's `xtextify`: bytes outside `!`..`~`, `+` and the characters that would
/// break a log field become `+XX`, so a name with spaces stays one token.
fn xtext(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte <= b' ' || byte >= 0x7f || b"+<>\"(),".contains(&byte) {
            encoded.push_str(&format!("+{byte:02X}"));
        } else {
            encoded.push(char::from(byte));
        }
    }
    encoded
}

/// The fields of an `AUTH=server` line.
pub(crate) struct AuthLine<'a> {
    pub(crate) relay: &'a str,
    pub(crate) authid: &'a str,
    pub(crate) mechanism: &'a str,
    pub(crate) bits: u16,
}

/// `AUTH=server, relay=[ip], authid=USER, mech=PLAIN, bits=256`, as sendmail logs it.
pub(crate) fn auth_accepted(line: &AuthLine<'_>) {
    tracing::info!(
        target: TARGET,
        AUTH = "server",
        relay = %line.relay,
        authid = %line.authid,
        mech = %line.mechanism,
        bits = line.bits,
    );
}

/// A refused or failed AUTH, with the reply the client got.
pub(crate) fn auth_refused(line: &AuthLine<'_>, reply: &str) {
    tracing::info!(
        target: TARGET,
        AUTH = "server",
        relay = %line.relay,
        authid = %line.authid,
        mech = %line.mechanism,
        reject = %format_args!("\"{reply}\""),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtext_keeps_names_one_token() {
        assert_eq!(xtext("/O=Example Org/CN=a+b"), "/O=Example+20Org/CN=a+2Bb");
        assert_eq!(xtext("/CN=x, y"), "/CN=x+2C+20y");
        assert_eq!(xtext("/CN=caf\u{e9}"), "/CN=caf+C3+A9");
    }
}
