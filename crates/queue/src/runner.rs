//! The scheduler: keeps every queued message's next due time, runs due messages through
//! delivery with bounded concurrency, records each recipient's new state durably, sends
//! DSNs, and removes messages whose recipients are all done.
//!
//! `queue.delivery_concurrency` bounds the attempts running at once. An attempt never
//! waits for a busy destination (all of its `outbound.destination_concurrency` slots
//! taken): those recipients are set aside, the attempt ends and frees its slot, and the
//! message is woken when the deliverer announces a free slot at that destination (or
//! after a fallback delay). So messages for one slow destination cannot take every
//! delivery slot and starve the others.
//!
//! Decisions (when to retry, when to give up, whether a DSN is wanted) are the pure
//! functions of `schedule` and `dsn`; this module only sequences them with I/O.

mod attempt;
mod notify;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use posthorn_delivery::Deliverer;
use posthorn_spool::{QueueId, QueuedMessage, Spool};
use tokio::sync::{mpsc, watch, Semaphore};

use crate::backlog::Backlog;
use crate::schedule::{Lifetime, RetrySchedule};

/// How often the spool is scanned for messages queued by another process whose
/// notification was lost (e.g. `sendmail` while the daemon restarted).
const RESCAN_INTERVAL: Duration = Duration::from_secs(60);

/// How long a copy of a message (just accepted, or left unchanged by an attempt that
/// found its destination busy) stands in for the spool file, counted from when it
/// was known to match the file.
/// Only a `queue hold` in that window could make it stale, and a hold that
/// close to an attempt races with the delivery anyway.
const COPY_FRESH: Duration = Duration::from_secs(1);

/// Message copies kept at most: beyond, attempts read the spool.
const COPIES_MAX: usize = 10_000;

/// What the rest of the daemon tells the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueCommand {
    /// A new message is in the spool: try it now.
    Queued(QueueId),
    /// The server just committed this message: try it now, without reading it back.
    Accepted(Box<QueuedMessage>),
    /// Try now: one message, or every message.
    Flush(Option<QueueId>),
}

/// The scheduler's fixed settings.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Our host name: DSN `Reporting-MTA`, `MAILER-DAEMON@`, and the domain of `<Postmaster>`.
    pub hostname: String,
    pub schedule: RetrySchedule,
    pub lifetime: Lifetime,
    /// Deliveries running at once.
    pub concurrency: usize,
    /// The `policy=` of the log lines.
    pub policy_label: String,
}

/// The scheduler's state; run it with [`Scheduler::run`].
pub struct Scheduler {
    spool: Spool,
    deliverer: Arc<Deliverer>,
    settings: Arc<RunnerSettings>,
    /// The next due time of every message the scheduler knows and is not running.
    due_at: HashMap<QueueId, SystemTime>,
    /// Due times, earliest first; stale entries (not matching `due_at`) are skipped.
    timeline: BinaryHeap<Reverse<(SystemTime, QueueId)>>,
    running: HashSet<QueueId>,
    /// Messages flushed while running: retried as soon as their attempt ends.
    flushed_while_running: HashSet<QueueId>,
    /// Flushed messages: their next attempt tries deferred recipients before their time.
    forced: HashSet<QueueId>,
    /// Messages set aside because a destination (recipient domain) was busy, oldest first.
    waiting: HashMap<String, VecDeque<QueueId>>,
    permits: Arc<Semaphore>,
    /// Every delivery slot is taken: nothing starts before an attempt finishes.
    saturated: bool,
    /// New messages (told by `Queued`) that have not had an attempt yet, and
    /// their count shared with the server for flow control.
    fresh: HashSet<QueueId>,
    backlog: Backlog,
    /// Just-accepted messages, so their first attempt needs no read of the spool; and
    /// messages an attempt left unchanged to wait for a busy destination, so the next
    /// one needs none either.
    message_copies: HashMap<QueueId, MessageCopy>,
}

/// A message as it was on disk at `taken`: it stands in for the spool file until
/// [`COPY_FRESH`] after that.
pub(crate) struct MessageCopy {
    pub(crate) message: QueuedMessage,
    pub(crate) taken: Instant,
}

impl MessageCopy {
    fn is_fresh(&self) -> bool {
        self.taken.elapsed() < COPY_FRESH
    }
}

/// What one attempt on a message leaves behind.
struct Finished {
    id: QueueId,
    /// When the message is next due; `None` once it left the queue.
    next_due: Option<SystemTime>,
    /// DSNs queued by the attempt.
    new_messages: Vec<QueueId>,
    /// Busy destinations the message waits for.
    waiting_for: Vec<String>,
    /// The message, when the attempt changed nothing in it.
    unchanged: Option<MessageCopy>,
}

impl Scheduler {
    pub fn new(spool: Spool, deliverer: Arc<Deliverer>, settings: RunnerSettings) -> Self {
        let permits = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        // Twice the delivery slots: every slot busy and as many ready to follow.
        let backlog = Backlog::new(settings.concurrency.max(1).saturating_mul(2));
        Scheduler {
            spool,
            deliverer,
            settings: Arc::new(settings),
            due_at: HashMap::new(),
            timeline: BinaryHeap::new(),
            running: HashSet::new(),
            flushed_while_running: HashSet::new(),
            forced: HashSet::new(),
            waiting: HashMap::new(),
            permits,
            saturated: false,
            fresh: HashSet::new(),
            backlog,
            message_copies: HashMap::new(),
        }
    }

    /// The count of new messages waiting for a first attempt, for the server's
    /// flow control.
    pub fn backlog(&self) -> Backlog {
        self.backlog.clone()
    }

    /// Runs until `stopping` turns true. `recovered` are the messages found at start.
    pub async fn run(
        mut self,
        recovered: Vec<QueuedMessage>,
        mut commands: mpsc::Receiver<QueueCommand>,
        mut stopping: watch::Receiver<bool>,
    ) {
        let now = SystemTime::now();
        for message in &recovered {
            self.schedule(message.id.clone(), first_due(message, now));
        }
        let (finished_tx, mut finished_rx) = mpsc::unbounded_channel::<Finished>();
        let mut freed = self.deliverer.watch_freed();
        let mut rescan = tokio::time::interval(RESCAN_INTERVAL);
        rescan.tick().await;
        loop {
            let sleep = self.until_next_due();
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.handle(command),
                    None => return,
                },
                Some(finished) = finished_rx.recv() => self.finish(finished),
                Some(destination) = freed.recv() => self.wake_one(&destination),
                _ = tokio::time::sleep(sleep) => self.start_due(&finished_tx),
                _ = rescan.tick() => self.rescan().await,
                _ = stopping.changed() => {
                    if *stopping.borrow() {
                        return;
                    }
                }
            }
        }
    }

    fn handle(&mut self, command: QueueCommand) {
        let now = SystemTime::now();
        match command {
            QueueCommand::Queued(id) => self.arrived(id, now),
            QueueCommand::Accepted(message) => {
                let id = message.id.clone();
                self.keep_copy(MessageCopy {
                    message: *message,
                    taken: Instant::now(),
                });
                self.arrived(id, now);
            }
            QueueCommand::Flush(Some(id)) => {
                self.forced.insert(id.clone());
                if self.running.contains(&id) {
                    self.flushed_while_running.insert(id);
                } else {
                    self.schedule(id, now);
                }
            }
            QueueCommand::Flush(None) => {
                let ids: Vec<QueueId> = self.due_at.keys().cloned().collect();
                for id in ids {
                    self.forced.insert(id.clone());
                    self.schedule(id, now);
                }
                self.forced.extend(self.running.iter().cloned());
                self.flushed_while_running
                    .extend(self.running.iter().cloned());
            }
        }
    }

    /// A new message: counted in the backlog until its first attempt.
    fn arrived(&mut self, id: QueueId, now: SystemTime) {
        if self.fresh.insert(id.clone()) {
            self.backlog.arrived();
        }
        self.schedule(id, now);
    }

    fn schedule(&mut self, id: QueueId, at: SystemTime) {
        if self.running.contains(&id) {
            return;
        }
        self.due_at.insert(id.clone(), at);
        self.timeline.push(Reverse((at, id)));
    }

    fn until_next_due(&mut self) -> Duration {
        if self.saturated {
            return Duration::from_secs(3600);
        }
        while let Some(Reverse((at, id))) = self.timeline.peek() {
            if self.due_at.get(id) == Some(at) {
                return at
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO);
            }
            self.timeline.pop();
        }
        Duration::from_secs(3600)
    }

    /// Starts every message that is due, as far as the concurrency limit allows.
    fn start_due(&mut self, finished: &mpsc::UnboundedSender<Finished>) {
        let now = SystemTime::now();
        while let Some(Reverse((at, _))) = self.timeline.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, id))) = self.timeline.pop() else {
                break;
            };
            if self.due_at.get(&id) != Some(&at) {
                continue;
            }
            let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
                // All delivery slots busy: wait for one to finish rather than spin.
                self.timeline.push(Reverse((at, id)));
                self.saturated = true;
                break;
            };
            self.due_at.remove(&id);
            self.running.insert(id.clone());
            let forced = self.forced.remove(&id);
            let copy = self
                .message_copies
                .remove(&id)
                .filter(MessageCopy::is_fresh);
            let task = attempt::Attempt {
                spool: self.spool.clone(),
                deliverer: Arc::clone(&self.deliverer),
                settings: Arc::clone(&self.settings),
            };
            let finished = finished.clone();
            tokio::spawn(async move {
                let outcome = task.run(&id, forced, copy).await;
                drop(permit);
                let _ = finished.send(Finished {
                    id,
                    next_due: outcome.next_due,
                    new_messages: outcome.new_messages,
                    waiting_for: outcome.waiting_for,
                    unchanged: outcome.unchanged,
                });
            });
        }
    }

    /// Keeps `copy` for the message's next attempt, within the bound on copies.
    fn keep_copy(&mut self, copy: MessageCopy) {
        if copy.is_fresh() && self.message_copies.len() < COPIES_MAX {
            self.message_copies.insert(copy.message.id.clone(), copy);
        }
    }

    fn finish(&mut self, finished: Finished) {
        self.running.remove(&finished.id);
        if let Some(copy) = finished.unchanged {
            if !finished.waiting_for.is_empty() {
                self.keep_copy(copy);
            }
        }
        self.saturated = false;
        let now = SystemTime::now();
        let flushed = self.flushed_while_running.remove(&finished.id);
        // Waiting for a busy destination is not an attempt: it stays in the backlog.
        if finished.waiting_for.is_empty() && self.fresh.remove(&finished.id) {
            self.backlog.attempted();
        }
        if let Some(next) = finished.next_due {
            self.schedule(finished.id.clone(), if flushed { now } else { next });
        }
        for id in finished.new_messages {
            self.schedule(id, now);
        }
        for destination in finished.waiting_for {
            self.waiting
                .entry(destination)
                .or_default()
                .push_back(finished.id.clone());
        }
    }

    /// A slot at `destination` is free: the oldest message waiting for it goes now.
    fn wake_one(&mut self, destination: &str) {
        let Some(queue) = self.waiting.get_mut(destination) else {
            return;
        };
        // One still waiting (not running, not gone): it takes the free slot.
        while let Some(id) = queue.pop_front() {
            if !self.running.contains(&id) && self.due_at.contains_key(&id) {
                if queue.is_empty() {
                    self.waiting.remove(destination);
                }
                self.schedule(id, SystemTime::now());
                return;
            }
        }
        self.waiting.remove(destination);
    }

    /// Picks up messages another process queued without telling us. Only the
    /// directory is read; just the files of ids the scheduler does not know are.
    async fn rescan(&mut self) {
        let spool = self.spool.clone();
        let Ok(Ok(ids)) = tokio::task::spawn_blocking(move || spool.queued_ids()).await else {
            return;
        };
        let waiting: HashSet<&QueueId> = self.waiting.values().flatten().collect();
        let unknown: Vec<QueueId> = ids
            .into_iter()
            .filter(|id| {
                !(self.due_at.contains_key(id) || self.running.contains(id) || waiting.contains(id))
            })
            .collect();
        if unknown.is_empty() {
            return;
        }
        let spool = self.spool.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            unknown
                .into_iter()
                .filter_map(|id| spool.load(&id).ok())
                .collect::<Vec<_>>()
        });
        let Ok(messages) = loaded.await else {
            return;
        };
        // Nothing else ran meanwhile: the scheduler awaits this in its own loop.
        let now = SystemTime::now();
        for message in messages {
            self.schedule(message.id.clone(), first_due(&message, now));
        }
    }
}

/// When a message found in the spool is first due: its earliest pending or deferred
/// recipient.
fn first_due(message: &QueuedMessage, now: SystemTime) -> SystemTime {
    use posthorn_spool::RecipientStatus::{Deferred, Pending};
    message
        .envelope
        .recipients
        .iter()
        .filter_map(|recipient| match recipient.state.status {
            Pending => Some(now),
            Deferred => Some(recipient.state.next_attempt.unwrap_or(now)),
            _ => None,
        })
        .min()
        .unwrap_or(now)
}
