//! One attempt on one message: the due recipients, grouped by domain, through delivery
//! (the domains at once, so a slow one does not hold up the rest); each domain's new
//! states on disk as soon as it is done, then the DSNs, and removal when nothing is left
//! to do. Recipients whose destination is busy keep their state untouched: the message
//! waits for a free slot there, without counting an attempt.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use posthorn_delivery::maillog::{delivery, DeliveryLine};
use posthorn_delivery::{Deliverer, Delivery, Outcome, Parcel, RecipientReport};
use posthorn_proto::client::OutgoingEnvelope;
use posthorn_proto::{Domain, ForwardPath};
use posthorn_spool::{QueueId, QueuedMessage, RecipientState, RecipientStatus, Spool, SpoolError};
use tokio::task::{self, JoinSet};

use super::notify::{self, Notice};
use super::{MessageCopy, RunnerSettings};
use crate::schedule::{after_temporary_failure, AfterFailure};

/// When recipients held back by a busy destination are looked at again if no slot there
/// is announced free before (the announcement normally comes much sooner).
const BUSY_FALLBACK: Duration = Duration::from_secs(15);

pub(super) struct Attempt {
    pub(super) spool: Spool,
    pub(super) deliverer: Arc<Deliverer>,
    pub(super) settings: Arc<RunnerSettings>,
}

pub(super) struct AttemptOutcome {
    pub(super) next_due: Option<SystemTime>,
    pub(super) new_messages: Vec<QueueId>,
    /// Busy destinations (recipient domains) the message waits for.
    pub(super) waiting_for: Vec<String>,
    /// The message as it still is on disk, when the attempt recorded nothing.
    pub(super) unchanged: Option<MessageCopy>,
}

impl AttemptOutcome {
    fn gone() -> Self {
        AttemptOutcome {
            next_due: None,
            new_messages: Vec::new(),
            waiting_for: Vec::new(),
            unchanged: None,
        }
    }

    fn later(at: SystemTime) -> Self {
        AttemptOutcome {
            next_due: Some(at),
            ..AttemptOutcome::gone()
        }
    }
}

/// Runs `work` on the blocking pool: spool calls wait for fsync.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SpoolError> + Send + 'static,
) -> Result<T, SpoolError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(error) => Err(SpoolError::Io {
            op: "blocking task",
            path: Default::default(),
            source: std::io::Error::other(error.to_string()),
        }),
    }
}

impl Attempt {
    /// `forced`: deferred recipients are tried even before their next attempt time (flush).
    /// `copy`: the message as it is on disk, instead of reading it from the spool.
    pub(super) async fn run(
        &self,
        id: &QueueId,
        forced: bool,
        copy: Option<MessageCopy>,
    ) -> AttemptOutcome {
        let spool = self.spool.clone();
        let load_id = id.clone();
        let (loaded, taken) = match copy {
            Some(copy) => (Ok(copy.message), copy.taken),
            None => {
                let taken = Instant::now();
                (blocking(move || spool.load(&load_id)).await, taken)
            }
        };
        let message = match loaded {
            Ok(message) => message,
            Err(SpoolError::NotFound(_)) => return AttemptOutcome::gone(),
            Err(error) => {
                tracing::error!(qid = %id, %error, "cannot read queued message");
                return AttemptOutcome::later(SystemTime::now() + self.settings.schedule.min);
            }
        };
        if message.held {
            // `queue release` flushes the message again.
            return AttemptOutcome::gone();
        }
        let started = SystemTime::now();
        let due = due_recipients(&message, started, forced);
        let mut results = Results::default();
        let mut deliveries = self.start_deliveries(&message, &due);
        while let Some(joined) = deliveries.join_next_with_id().await {
            let (task, delivery) = match joined {
                Ok((task, delivery)) => (task, Some(delivery)),
                Err(error) => (error.id(), None),
            };
            let Some((key, indexes)) = deliveries.groups.remove(&task) else {
                continue;
            };
            match delivery {
                Some(Delivery::Attempted(reports)) => {
                    self.settle(&message, &indexes, reports, started, &mut results)
                        .await;
                }
                Some(Delivery::DestinationBusy) => results.busy(key, indexes),
                None => {
                    tracing::error!(qid = %message.id, domain = %key, "delivery task failed");
                    let retry = SystemTime::now() + self.settings.schedule.min;
                    results.hold_back(indexes, retry);
                }
            }
        }
        self.finish(message, taken, results).await
    }

    /// One delivery task per recipient domain, all running at once: a slow domain does
    /// not hold up the others.
    fn start_deliveries(&self, message: &QueuedMessage, due: &[usize]) -> Deliveries {
        let mut deliveries = Deliveries::default();
        for (key, (domain, indexes)) in self.group_by_domain(message, due) {
            let envelope = outgoing_envelope(message, &indexes);
            let deliverer = Arc::clone(&self.deliverer);
            let spool = self.spool.clone();
            let id = message.id.clone();
            let handle = deliveries.tasks.spawn(async move {
                let open_body = move || {
                    spool
                        .body(&id)
                        .map(|body| Box::new(body) as Box<dyn Read + Send>)
                        .map_err(|error| std::io::Error::other(error.to_string()))
                };
                let parcel = Parcel {
                    envelope,
                    open_body: &open_body,
                };
                deliverer.deliver(&domain, &parcel).await
            });
            deliveries.groups.insert(handle.id(), (key, indexes));
        }
        deliveries
    }

    /// The new states of one domain's recipients: logged, made durable at once (so a
    /// crash while another domain is still slow does not repeat this one), noted for DSNs.
    async fn settle(
        &self,
        message: &QueuedMessage,
        indexes: &[usize],
        reports: Vec<RecipientReport>,
        started: SystemTime,
        results: &mut Results,
    ) {
        let mut updates = Vec::with_capacity(indexes.len());
        let mut notices = Vec::new();
        // The retry interval counts from the end of this attempt: a try that took the
        // whole reply timeout is not followed at once by the next one.
        let finished = SystemTime::now();
        for (&index, report) in indexes.iter().zip(&reports) {
            let state = self.next_state(message, index, report, finished);
            self.log(message, index, report, &state, started);
            notices.extend(Notice::for_attempt(index, report, &state));
            updates.push((index, state));
        }
        if notices.is_empty() && completes_message(message, &updates) {
            // The removal in `finish` is what makes these states durable: a crash
            // before it delivers again (a duplicate, as after any remote 250 not yet
            // recorded), and one sync per message is saved.
            results.updates.extend(updates);
            return;
        }
        let spool = self.spool.clone();
        let id = message.id.clone();
        let durable = updates.clone();
        if let Err(error) = blocking(move || spool.update_recipients(&id, &durable)).await {
            // Not recorded: the recipients keep their old state and are tried again.
            tracing::error!(qid = %message.id, %error, "cannot record delivery results");
            let retry = SystemTime::now() + self.settings.schedule.min;
            results.hold_back(indexes.to_vec(), retry);
            return;
        }
        results.updates.extend(updates);
        results.notices.extend(notices);
    }

    /// Recipients grouped by the domain their mail goes to (`<Postmaster>`: ours).
    fn group_by_domain(
        &self,
        message: &QueuedMessage,
        due: &[usize],
    ) -> BTreeMap<String, (Domain, Vec<usize>)> {
        let mut groups: BTreeMap<String, (Domain, Vec<usize>)> = BTreeMap::new();
        for &index in due {
            let domain = match &message.envelope.recipients[index].address {
                ForwardPath::Mailbox(mailbox) => mailbox.domain.clone(),
                ForwardPath::Postmaster => Domain::Name(self.settings.hostname.clone()),
            };
            groups
                .entry(domain.lookup_key())
                .or_insert_with(|| (domain, Vec::new()))
                .1
                .push(index);
        }
        groups
    }

    fn next_state(
        &self,
        message: &QueuedMessage,
        index: usize,
        report: &RecipientReport,
        now: SystemTime,
    ) -> RecipientState {
        let previous = &message.envelope.recipients[index].state;
        let attempts = previous.attempts.saturating_add(1);
        let (status, next_attempt, last_reply) = match report.outcome {
            Outcome::Delivered => (RecipientStatus::Delivered, None, report.reply.clone()),
            Outcome::Failed => (RecipientStatus::Failed, None, report.reply.clone()),
            Outcome::Deferred => match after_temporary_failure(
                &self.settings.schedule,
                &self.settings.lifetime,
                message.envelope.received_at,
                now,
                attempts,
            ) {
                AfterFailure::RetryAt(at) => {
                    (RecipientStatus::Deferred, Some(at), report.reply.clone())
                }
                AfterFailure::GiveUp => (
                    RecipientStatus::Failed,
                    None,
                    format!(
                        "Message could not be delivered for {}: {}",
                        humanize(self.settings.lifetime.give_up_after),
                        report.reply
                    ),
                ),
            },
        };
        RecipientState {
            status,
            attempts,
            last_reply: Some(last_reply),
            next_attempt,
        }
    }

    fn log(
        &self,
        message: &QueuedMessage,
        index: usize,
        report: &RecipientReport,
        state: &RecipientState,
        started: SystemTime,
    ) {
        let now = SystemTime::now();
        let stat = match (report.outcome, state.status) {
            (Outcome::Delivered, _) => format!("Sent ({})", report.reply),
            (_, RecipientStatus::Deferred) => format!("Deferred: {}", report.reply),
            _ => state.last_reply.clone().unwrap_or_default(),
        };
        let status = match (report.outcome, state.status) {
            (Outcome::Deferred, RecipientStatus::Failed) => "4.4.7".to_owned(),
            _ => report.status.to_string(),
        };
        let recipient = message.envelope.recipients[index].address.to_string();
        delivery(&DeliveryLine {
            queue_id: message.id.as_ref(),
            recipient: &recipient,
            delay: now
                .duration_since(message.envelope.received_at)
                .unwrap_or_default(),
            xdelay: now.duration_since(started).unwrap_or_default(),
            relay: report.relay.as_deref(),
            dsn: &status,
            stat: &stat,
            tls: report.tls.unwrap_or("none"),
            verify: &report.verify.to_string(),
            policy: if report.policy.is_empty() {
                &self.settings.policy_label
            } else {
                &report.policy
            },
        });
    }

    /// Sends the DSNs of what was recorded, and removes a message with nothing left to do.
    /// A message the attempt left as it was on disk comes back with the outcome
    /// (`taken`: when it was known to be so), for the next attempt to start from.
    async fn finish(
        &self,
        mut message: QueuedMessage,
        taken: Instant,
        results: Results,
    ) -> AttemptOutcome {
        let unchanged = results.updates.is_empty() && results.notices.is_empty();
        for (index, state) in results.updates {
            message.envelope.recipients[index].state = state;
        }
        let new_messages =
            notify::send(&self.spool, &self.settings, &message, results.notices).await;
        let next_due = next_due(&message, &results.held_back);
        if next_due.is_none() {
            if let Err(error) = self.spool.remove_finished(&message.id).await {
                tracing::error!(qid = %message.id, %error, "cannot remove delivered message");
            }
        }
        AttemptOutcome {
            next_due,
            new_messages,
            waiting_for: results.waiting_for,
            unchanged: (unchanged && next_due.is_some()).then_some(MessageCopy { message, taken }),
        }
    }
}

/// The running delivery tasks of one attempt, and the recipients each one carries.
#[derive(Default)]
struct Deliveries {
    tasks: JoinSet<Delivery>,
    groups: HashMap<task::Id, (String, Vec<usize>)>,
}

impl Deliveries {
    async fn join_next_with_id(
        &mut self,
    ) -> Option<Result<(task::Id, Delivery), tokio::task::JoinError>> {
        self.tasks.join_next_with_id().await
    }
}

/// What an attempt found out, domain by domain.
#[derive(Default)]
struct Results {
    /// New recipient states, already durable.
    updates: Vec<(usize, RecipientState)>,
    notices: Vec<Notice>,
    /// Recipients whose state did not change, and when to look at them again.
    held_back: Vec<(usize, SystemTime)>,
    /// Destinations that were busy (their recipients are held back until one frees).
    waiting_for: Vec<String>,
}

impl Results {
    fn busy(&mut self, destination: String, indexes: Vec<usize>) {
        self.hold_back(indexes, SystemTime::now() + BUSY_FALLBACK);
        self.waiting_for.push(destination);
    }

    fn hold_back(&mut self, indexes: Vec<usize>, until: SystemTime) {
        self.held_back
            .extend(indexes.into_iter().map(|index| (index, until)));
    }
}

/// The part of the envelope that goes to one domain.
fn outgoing_envelope(message: &QueuedMessage, indexes: &[usize]) -> OutgoingEnvelope {
    let envelope = &message.envelope;
    OutgoingEnvelope {
        sender: envelope.sender.clone(),
        params: envelope.params.clone(),
        recipients: indexes
            .iter()
            .map(|&index| {
                let recipient = &envelope.recipients[index];
                (recipient.address.clone(), recipient.params.clone())
            })
            .collect(),
        size: message.size,
    }
}

/// Whether `updates` deliver every recipient still to do, so the message leaves
/// the queue now. Recipients of other domains still in flight are not final yet,
/// so then it is `false` and each domain's results are recorded as they come.
fn completes_message(message: &QueuedMessage, updates: &[(usize, RecipientState)]) -> bool {
    let all_delivered = updates
        .iter()
        .all(|(_, state)| state.status == RecipientStatus::Delivered);
    let others_final = message
        .envelope
        .recipients
        .iter()
        .enumerate()
        .filter(|(index, _)| !updates.iter().any(|(updated, _)| updated == index))
        .all(|(_, recipient)| {
            matches!(
                recipient.state.status,
                RecipientStatus::Delivered | RecipientStatus::Failed
            )
        });
    all_delivered && others_final
}

fn due_recipients(message: &QueuedMessage, now: SystemTime, forced: bool) -> Vec<usize> {
    message
        .envelope
        .recipients
        .iter()
        .enumerate()
        .filter(|(_, recipient)| match recipient.state.status {
            RecipientStatus::Pending => true,
            RecipientStatus::Deferred => {
                forced || recipient.state.next_attempt.is_none_or(|at| at <= now)
            }
            RecipientStatus::Delivered | RecipientStatus::Failed => false,
        })
        .map(|(index, _)| index)
        .collect()
}

/// The earliest next attempt of a recipient still to do (`held_back` ones at their own
/// time); `None` when all are done.
fn next_due(message: &QueuedMessage, held_back: &[(usize, SystemTime)]) -> Option<SystemTime> {
    let now = SystemTime::now();
    let held: HashMap<usize, SystemTime> = held_back.iter().copied().collect();
    message
        .envelope
        .recipients
        .iter()
        .enumerate()
        .filter_map(|(index, recipient)| match recipient.state.status {
            RecipientStatus::Delivered | RecipientStatus::Failed => None,
            _ if held.contains_key(&index) => held.get(&index).copied(),
            RecipientStatus::Pending => Some(now),
            RecipientStatus::Deferred => Some(recipient.state.next_attempt.unwrap_or(now)),
        })
        .min()
}

/// `5 days`, `4 hours`, `30 seconds`: how sendmail words its give-up message.
fn humanize(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (amount, unit) = match seconds {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3_600 && s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{amount} {unit}{}", if amount == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::{completes_message, humanize};
    use posthorn_proto::{ForwardPath, RcptParams, ReversePath};
    use posthorn_spool::{
        ClientInfo, Envelope, QueuedMessage, Recipient, RecipientState, RecipientStatus,
    };
    use std::time::{Duration, UNIX_EPOCH};

    fn message_with(statuses: &[RecipientStatus]) -> QueuedMessage {
        let recipients = statuses
            .iter()
            .map(|status| {
                let mut recipient = Recipient::new(ForwardPath::Postmaster, RcptParams::default());
                recipient.state.status = *status;
                recipient
            })
            .collect();
        QueuedMessage {
            id: "kAL2BZNH03bB01".parse().expect("id"),
            envelope: Envelope {
                sender: ReversePath::Null,
                params: Default::default(),
                recipients,
                client: ClientInfo {
                    helo: "h".into(),
                    address: None,
                    hostname: None,
                    protocol: "SMTP".into(),
                    auth_id: None,
                    tls_version: None,
                },
                received_at: UNIX_EPOCH,
            },
            size: 1,
            held: false,
            delay_notified: false,
        }
    }

    fn state(status: RecipientStatus) -> RecipientState {
        RecipientState {
            status,
            attempts: 1,
            last_reply: None,
            next_attempt: None,
        }
    }

    #[test]
    fn only_an_attempt_that_delivers_everything_left_completes_the_message() {
        use RecipientStatus::{Deferred, Delivered, Failed, Pending};
        type Case<'a> = (&'a [RecipientStatus], &'a [(usize, RecipientStatus)], bool);
        let cases: [Case; 6] = [
            (&[Pending], &[(0, Delivered)], true),
            (&[Pending, Delivered, Failed], &[(0, Delivered)], true),
            (&[Pending, Pending], &[(0, Delivered), (1, Delivered)], true),
            // Another domain's recipient is still in flight or to do.
            (&[Pending, Pending], &[(0, Delivered)], false),
            (&[Pending, Deferred], &[(0, Delivered)], false),
            // A deferral or a failure must be recorded (retry time, DSN).
            (&[Pending, Pending], &[(0, Delivered), (1, Deferred)], false),
        ];
        for (before, updates, expected) in cases {
            let message = message_with(before);
            let updates: Vec<_> = updates.iter().map(|(i, s)| (*i, state(*s))).collect();
            assert_eq!(
                completes_message(&message, &updates),
                expected,
                "{before:?} {updates:?}"
            );
        }
        let failed = message_with(&[Pending]);
        assert!(!completes_message(&failed, &[(0, state(Failed))]));
    }

    #[test]
    fn give_up_durations_read_naturally() {
        let cases = [
            (5 * 86_400, "5 days"),
            (4 * 3_600, "4 hours"),
            (60, "1 minute"),
            (90, "90 seconds"),
        ];
        for (seconds, text) in cases {
            assert_eq!(humanize(Duration::from_secs(seconds)), text);
        }
    }
}
