//! Delivery status notifications after an attempt: which recipients need one (their
//! NOTIFY, RFC 3461), building the report (`crate::dsn`), and queueing it like any mail.

use std::time::SystemTime;

use posthorn_delivery::{Outcome, RecipientReport};
use posthorn_proto::{BodyType, EnhancedStatus, ForwardPath, MailParams, RcptParams, ReversePath};
use posthorn_spool::{
    ClientInfo, Envelope, QueueId, QueuedMessage, Recipient, RecipientState, RecipientStatus,
    Spool, SpoolError,
};

use super::attempt::blocking;
use super::RunnerSettings;
use crate::dsn::{build_dsn, wants_notification, Dsn, DsnAction, DsnRecipient, DsnRequest};
use crate::schedule::delay_warning_due;

/// One recipient's news from an attempt that may be worth a DSN.
#[derive(Debug, Clone)]
pub(super) struct Notice {
    index: usize,
    action: DsnAction,
    status: EnhancedStatus,
    remote_mta: Option<String>,
    diagnostic: Option<String>,
}

impl Notice {
    /// A failure (refused, or given up), or a success relayed to a server without DSN.
    pub(super) fn for_attempt(
        index: usize,
        report: &RecipientReport,
        state: &RecipientState,
    ) -> Option<Notice> {
        let (action, status) = match (report.outcome, state.status) {
            (Outcome::Deferred, RecipientStatus::Failed) => {
                (DsnAction::Failed, EnhancedStatus::new(4, 4, 7))
            }
            (Outcome::Failed, _) => (DsnAction::Failed, report.status),
            (Outcome::Delivered, _) if !report.remote_dsn => (DsnAction::Relayed, report.status),
            _ => return None,
        };
        Some(Notice {
            index,
            action,
            status,
            remote_mta: report.relay.as_deref().map(remote_host),
            diagnostic: Some(
                state
                    .last_reply
                    .clone()
                    .unwrap_or_else(|| report.reply.clone()),
            ),
        })
    }
}

/// Queues the DSNs this attempt calls for; their queue ids.
pub(super) async fn send(
    spool: &Spool,
    settings: &RunnerSettings,
    message: &QueuedMessage,
    mut notices: Vec<Notice>,
) -> Vec<QueueId> {
    let now = SystemTime::now();
    let mut reports = Vec::new();
    for action in [DsnAction::Failed, DsnAction::Relayed] {
        let batch: Vec<Notice> = notices
            .iter()
            .filter(|n| n.action == action)
            .cloned()
            .collect();
        reports.push(batch);
    }
    notices.clear();
    let still_deferred: Vec<Notice> = delayed(message);
    let warn = !still_deferred.is_empty()
        && delay_warning_due(
            &settings.lifetime,
            message.envelope.received_at,
            now,
            message.delay_notified,
        );
    if warn {
        reports.push(still_deferred);
    }
    let mut queued = Vec::new();
    for batch in reports {
        let wanted: Vec<Notice> = batch
            .into_iter()
            .filter(|notice| {
                let notify = message.envelope.recipients[notice.index].params.notify;
                wants_notification(notify, notice.action)
            })
            .collect();
        if wanted.is_empty() {
            continue;
        }
        match queue_report(spool, settings, message, wanted, now).await {
            Ok(Some(id)) => queued.push(id),
            Ok(None) => {}
            Err(error) => tracing::error!(qid = %message.id, %error, "cannot queue a DSN"),
        }
    }
    if warn {
        let spool = spool.clone();
        let id = message.id.clone();
        if let Err(error) = blocking(move || spool.mark_delay_notified(&id)).await {
            tracing::error!(qid = %message.id, %error, "cannot record the delay notice");
        }
    }
    queued
}

/// Delay notices for every recipient still waiting.
fn delayed(message: &QueuedMessage) -> Vec<Notice> {
    message
        .envelope
        .recipients
        .iter()
        .enumerate()
        .filter(|(_, recipient)| recipient.state.status == RecipientStatus::Deferred)
        .map(|(index, recipient)| Notice {
            index,
            action: DsnAction::Delayed,
            status: EnhancedStatus::new(4, 0, 0),
            remote_mta: None,
            diagnostic: recipient.state.last_reply.clone(),
        })
        .collect()
}

async fn queue_report(
    spool: &Spool,
    settings: &RunnerSettings,
    message: &QueuedMessage,
    notices: Vec<Notice>,
    now: SystemTime,
) -> Result<Option<QueueId>, SpoolError> {
    let recipients: Vec<DsnRecipient> = notices
        .iter()
        .map(|notice| {
            let recipient = &message.envelope.recipients[notice.index];
            DsnRecipient {
                address: recipient.address.to_string(),
                original: recipient.params.orcpt.clone(),
                action: notice.action,
                status: notice.status,
                remote_mta: notice.remote_mta.clone(),
                diagnostic: notice.diagnostic.clone(),
                last_attempt: Some(now),
                will_retry_until: (notice.action == DsnAction::Delayed)
                    .then(|| message.envelope.received_at + settings.lifetime.give_up_after),
            }
        })
        .collect();
    let spool = spool.clone();
    let message = message.clone();
    let hostname = settings.hostname.clone();
    blocking(move || {
        let request = DsnRequest {
            reporting_mta: &hostname,
            original_sender: &message.envelope.sender,
            envid: message.envelope.params.envid.as_deref(),
            ret: message.envelope.params.ret,
            arrival: message.envelope.received_at,
            original_queue_id: message.id.as_ref(),
            recipients,
            now,
        };
        let mut original = spool.body(&message.id)?;
        let dsn = build_dsn(&request, |_| true, &mut original).map_err(|source| SpoolError::Io {
            op: "build DSN",
            path: Default::default(),
            source,
        })?;
        let Some(dsn) = dsn else {
            return Ok(None);
        };
        let id = inject(&spool, &hostname, dsn)?;
        tracing::info!(target: "posthorn::mail", qid = %message.id, dsnid = %id, notify = %format_args!("<{}>", message.envelope.sender));
        Ok(Some(id))
    })
    .await
}

/// Queues a DSN from the null sender to the original sender.
fn inject(spool: &Spool, hostname: &str, dsn: Dsn) -> Result<QueueId, SpoolError> {
    let params = MailParams {
        body: dsn.eight_bit.then_some(BodyType::EightBitMime),
        ..MailParams::default()
    };
    let envelope = Envelope {
        sender: ReversePath::Null,
        params,
        recipients: vec![Recipient::new(
            ForwardPath::Mailbox(dsn.recipient),
            RcptParams::default(),
        )],
        client: ClientInfo {
            helo: hostname.to_owned(),
            address: None,
            hostname: None,
            protocol: "local".to_owned(),
            auth_id: None,
            tls_version: None,
        },
        received_at: SystemTime::now(),
    };
    let mut writer = spool.create(&envelope)?;
    writer.write(&dsn.message)?;
    Ok(writer.commit().wait()?.id)
}

/// `mx.example.com. [192.0.2.1]` -> `mx.example.com`.
fn remote_host(relay: &str) -> String {
    relay
        .split_whitespace()
        .next()
        .unwrap_or(relay)
        .trim_end_matches('.')
        .to_owned()
}
