//! The mail log events of the server (SPEC §5): one function per line kind, so the keys
//! and their order are written down once.

use crate::stream::Stream;

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

/// `STARTTLS=server, relay=..., version=..., verify=NOT, cipher=..., bits=N/N`. No client
/// certificate is requested by default (sendmail's `Srv_Features: V`), hence `NOT`.
pub(crate) fn starttls_server(relay: &str, stream: &Stream) {
    let Some(summary) = stream.tls_state().and_then(posthorn_tls::summarize) else {
        return;
    };
    tracing::info!(
        target: TARGET,
        STARTTLS = "server",
        relay = %relay,
        version = %summary.version,
        verify = "NOT",
        cipher = %summary.cipher,
        bits = %format_args!("{}/{}", summary.bits, summary.bits),
    );
}

pub(crate) fn starttls_server_failed(relay: &str, reason: &str) {
    tracing::info!(
        target: TARGET,
        STARTTLS = "server",
        relay = %relay,
        verify = "SOFTWARE",
        error = %format_args!("\"{reason}\""),
    );
}
