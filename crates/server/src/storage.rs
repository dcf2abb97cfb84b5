//! A message on its way into the spool: the envelope from the session, the `Received:`
//! header, the body as it streams in, and the commit that must finish before the `250`.
//! `MessageHandoff` carries out the session's storage actions the same way for a network
//! client (`connection.rs`) and a local one (`local.rs`).

use std::net::IpAddr;

use chrono::Utc;
use posthorn_proto::session::{ServerSession, Transaction};
use posthorn_proto::{EnhancedStatus, Reply};
use posthorn_spool::{
    ClientInfo, Envelope, MessageWriter, QueuedMessage, Recipient, RecipientState, RecipientStatus,
    Spool, SpoolError,
};
use posthorn_tls::SessionSummary;

use crate::header_scan::HeaderScan;
use crate::maillog;
use crate::received::Trace;

/// Who is on the other end, as the driver knows it (the session knows the rest).
pub(crate) struct Origin<'a> {
    /// Our own name: the `by` of the `Received:` header.
    pub(crate) hostname: &'a str,
    /// None for a local client (`sendmail -bs`), which has no address.
    pub(crate) client_ip: Option<IpAddr>,
    pub(crate) client_name: Option<&'a str>,
    /// The `relay=` of the mail log line.
    pub(crate) relay_label: &'a str,
}

/// What the session knows about the client when a message starts.
struct SessionFacts<'a> {
    hostname: &'a str,
    helo: &'a str,
    client_ip: Option<IpAddr>,
    client_name: Option<&'a str>,
    protocol: &'static str,
    auth_id: Option<&'a str>,
    tls: Option<SessionSummary>,
}

/// The session's storage actions carried out against the spool: `StartMessage` opens a
/// spool file ([`MessageHandoff::open`]), `Body` appends to it, `EndMessage` commits it
/// before the session may say `250`, `AbortMessage` throws it away.
pub(crate) struct MessageHandoff<'a> {
    spool: &'a Spool,
    origin: Origin<'a>,
    /// The message between `StartMessage` and `EndMessage` or `AbortMessage`.
    incoming: Option<Incoming>,
}

impl<'a> MessageHandoff<'a> {
    pub(crate) fn new(spool: &'a Spool, origin: Origin<'a>) -> Self {
        MessageHandoff {
            spool,
            origin,
            incoming: None,
        }
    }

    /// Answers `Action::StartMessage`: opens the spool file for the session's
    /// transaction. `tls` describes the connection's TLS, when it has any.
    pub(crate) fn open(&mut self, session: &mut ServerSession, tls: Option<SessionSummary>) {
        let result = match session.transaction() {
            Some(transaction) => {
                let facts = self.facts(session, tls);
                Incoming::open(self.spool, transaction, facts)
                    .map(|incoming| self.incoming = Some(incoming))
            }
            // The session asks only with a transaction; refusing is the safe answer.
            None => Err(local_error()),
        };
        session.storage_ready(result);
    }

    /// Answers `Action::Body`.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        if let Some(incoming) = self.incoming.as_mut() {
            incoming.write(bytes);
        }
    }

    /// Answers `Action::EndMessage`: makes the message durable, then tells the session.
    /// Returns the id of a message now safe in the spool, for the driver to announce
    /// (to the scheduler, or to a running daemon).
    pub(crate) async fn commit(&mut self, session: &mut ServerSession) -> Option<QueuedMessage> {
        let result = match self.incoming.take() {
            Some(incoming) => incoming.commit(self.origin.relay_label).await,
            None => Err(local_error()),
        };
        match result {
            Ok(queued) => {
                session.message_stored(Ok(queued.id.to_string()));
                Some(queued)
            }
            Err(reply) => {
                session.message_stored(Err(reply));
                None
            }
        }
    }

    /// Answers `Action::AbortMessage`: the unfinished spool file is dropped.
    pub(crate) fn abort(&mut self) {
        self.incoming = None;
    }

    fn facts<'s>(
        &'s self,
        session: &'s ServerSession,
        tls: Option<SessionSummary>,
    ) -> SessionFacts<'s> {
        SessionFacts {
            hostname: self.origin.hostname,
            helo: session.helo_name().unwrap_or_default(),
            client_ip: self.origin.client_ip,
            client_name: self.origin.client_name,
            protocol: session.protocol(),
            auth_id: session.auth_id(),
            tls,
        }
    }
}

/// An open spool file receiving one message.
struct Incoming {
    writer: MessageWriter,
    /// The first write error: the message is refused at commit with a 4xx.
    error: Option<SpoolError>,
    headers: HeaderScan,
    sender: String,
    recipients: usize,
    protocol: &'static str,
}

impl Incoming {
    /// Creates the spool file and writes the trace header.
    fn open(
        spool: &Spool,
        transaction: &Transaction,
        facts: SessionFacts<'_>,
    ) -> Result<Incoming, Reply> {
        let envelope = envelope(transaction, &facts);
        let mut writer = spool.create(&envelope).map_err(|error| refusal(&error))?;
        let single_recipient = match transaction.recipients.as_slice() {
            [(only, _)] => Some(only.to_string()),
            _ => None,
        };
        let trace = Trace {
            helo: facts.helo,
            client_name: facts.client_name,
            client_ip: facts.client_ip,
            hostname: facts.hostname,
            protocol: facts.protocol,
            queue_id: writer.id().as_ref(),
            tls: facts.tls.as_ref().map(|tls| {
                format!(
                    "version={} cipher={} bits={} verify=NOT",
                    tls.version, tls.cipher, tls.bits
                )
            }),
            single_recipient,
            time: Utc::now(),
        };
        writer
            .write(trace.header().as_bytes())
            .map_err(|error| refusal(&error))?;
        Ok(Incoming {
            writer,
            error: None,
            headers: HeaderScan::default(),
            sender: transaction.sender.to_string(),
            recipients: transaction.recipients.len(),
            protocol: facts.protocol,
        })
    }

    /// Appends body bytes; an error is remembered and reported at commit.
    fn write(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        self.headers.feed(bytes);
        if let Err(error) = self.writer.write(bytes) {
            self.error = Some(error);
        }
    }

    /// Makes the message durable; the queued message on success, the 4xx reply otherwise.
    async fn commit(self, relay_label: &str) -> Result<QueuedMessage, Reply> {
        if let Some(error) = &self.error {
            tracing::error!(%error, "cannot write message to the spool");
            return Err(refusal(error));
        }
        let size = self.writer.size();
        let queued = self.writer.commit().await.map_err(|error| {
            tracing::error!(%error, "cannot commit message to the spool");
            refusal(&error)
        })?;
        maillog::accepted(&maillog::Accepted {
            queue_id: queued.id.as_ref(),
            sender: &self.sender,
            size,
            recipients: self.recipients,
            message_id: self.headers.message_id().as_deref(),
            protocol: self.protocol,
            relay: relay_label,
        });
        Ok(queued)
    }
}

fn envelope(transaction: &Transaction, facts: &SessionFacts<'_>) -> Envelope {
    let recipients = transaction
        .recipients
        .iter()
        .map(|(address, params)| Recipient {
            address: address.clone(),
            params: params.clone(),
            state: RecipientState {
                status: RecipientStatus::Pending,
                attempts: 0,
                last_reply: None,
                next_attempt: None,
            },
        })
        .collect();
    Envelope {
        sender: transaction.sender.clone(),
        params: transaction.params.clone(),
        recipients,
        client: ClientInfo {
            helo: facts.helo.to_owned(),
            address: facts.client_ip,
            hostname: facts.client_name.map(str::to_owned),
            protocol: facts.protocol.to_owned(),
            auth_id: facts.auth_id.map(str::to_owned),
            tls_version: facts.tls.as_ref().map(|tls| tls.version.to_owned()),
        },
        received_at: std::time::SystemTime::now(),
    }
}

/// A spool failure is always temporary for the client (RFC 3463: 4.3.1 storage full,
/// 4.3.0 other): the message was not acknowledged, the client keeps it and retries.
fn refusal(error: &SpoolError) -> Reply {
    if error.is_no_space() {
        Reply::new(
            452,
            EnhancedStatus::new(4, 3, 1),
            "Insufficient system storage",
        )
    } else {
        local_error()
    }
}

fn local_error() -> Reply {
    Reply::new(
        451,
        EnhancedStatus::new(4, 3, 0),
        "Local error in processing; try again later",
    )
}
