//! A message on its way into the spool: the envelope from the session, the `Received:`
//! header, the body as it streams in, and the commit that must finish before the `250`.

use std::net::IpAddr;

use chrono::Utc;
use posthorn_proto::session::Transaction;
use posthorn_proto::{EnhancedStatus, Reply};
use posthorn_spool::{
    ClientInfo, Envelope, MessageWriter, QueueId, Recipient, RecipientState, RecipientStatus,
    Spool, SpoolError,
};
use posthorn_tls::SessionSummary;

use crate::header_scan::HeaderScan;
use crate::maillog;
use crate::received::Trace;

/// What the session knows about the client when a message starts.
pub(crate) struct SessionFacts {
    pub(crate) hostname: String,
    pub(crate) helo: String,
    pub(crate) client_ip: IpAddr,
    pub(crate) client_name: Option<String>,
    pub(crate) protocol: &'static str,
    pub(crate) auth_id: Option<String>,
    pub(crate) tls: Option<SessionSummary>,
}

/// An open spool file receiving one message.
pub(crate) struct Incoming {
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
    pub(crate) fn open(
        spool: &Spool,
        transaction: &Transaction,
        facts: SessionFacts,
    ) -> Result<Incoming, Reply> {
        let envelope = envelope(transaction, &facts);
        let mut writer = spool.create(&envelope).map_err(|error| refusal(&error))?;
        let single_recipient = match transaction.recipients.as_slice() {
            [(only, _)] => Some(only.to_string()),
            _ => None,
        };
        let trace = Trace {
            helo: &facts.helo,
            client_name: facts.client_name.as_deref(),
            client_ip: facts.client_ip,
            hostname: &facts.hostname,
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
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        self.headers.feed(bytes);
        if let Err(error) = self.writer.write(bytes) {
            self.error = Some(error);
        }
    }

    /// Makes the message durable; the queue id on success, the 4xx reply otherwise.
    pub(crate) async fn commit(self, relay_label: &str) -> Result<QueueId, Reply> {
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
        Ok(queued.id)
    }
}

fn envelope(transaction: &Transaction, facts: &SessionFacts) -> Envelope {
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
            helo: facts.helo.clone(),
            address: Some(facts.client_ip),
            hostname: facts.client_name.clone(),
            protocol: facts.protocol.to_owned(),
            auth_id: facts.auth_id.clone(),
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

pub(crate) fn local_error() -> Reply {
    Reply::new(
        451,
        EnhancedStatus::new(4, 3, 0),
        "Local error in processing; try again later",
    )
}
