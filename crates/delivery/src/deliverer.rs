//! One delivery attempt for the recipients of one message at one domain: a free slot at
//! the destination (or "busy" at once), route (without the hops that are this host),
//! reuse or open a connection (every address of every MX in order, RFC 5321 §5.1), send,
//! and say what happened to each recipient.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use posthorn_proto::client::{OutgoingEnvelope, RecipientOutcome, TransactionResult};
use posthorn_proto::{Domain, EnhancedStatus, Reply};
use tokio::sync::mpsc::UnboundedReceiver;

use posthorn_config::{PlaintextRetry, TlsFailure};
use posthorn_policy::outbound_tls::{
    outbound_policy, Destination as TlsDestination, Negotiated, TlsMode, TlsPolicy,
};
use posthorn_policy::AccessMap;

use crate::connection::{ClientSettings, Connection, ConnectionError, StartTlsFailure};
use crate::destination::Destinations;
use crate::maillog::{self, TlsAction};
use crate::route::{RouteError, Router, ThisHost};
use crate::tls::TlsClient;
use crate::tls_memory::TlsMemory;
use crate::verify::Verify;

/// What happened to one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Deferred,
    Failed,
}

/// One recipient's result of an attempt, with what the log and the DSN need.
#[derive(Debug, Clone)]
pub struct RecipientReport {
    pub outcome: Outcome,
    /// The remote reply, or our own reason (`Connection refused by ...`).
    pub reply: String,
    pub status: EnhancedStatus,
    /// `host. [ip]` of the server that answered, when one did.
    pub relay: Option<String>,
    pub tls: Option<&'static str>,
    pub verify: Verify,
    /// The server that answered offered DSN (so NOTIFY went along with the message).
    pub remote_dsn: bool,
    /// The TLS policy that applied and where it came from (`policy=` of the log).
    pub policy: String,
}

/// What [`Deliverer::deliver`] did.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// One report per recipient, in the parcel's order.
    Attempted(Vec<RecipientReport>),
    /// Every connection slot of the destination is taken: nothing was tried, and the
    /// recipients' state should not change. [`Deliverer::watch_freed`] says when a slot
    /// frees.
    DestinationBusy,
}

/// A message (or part of its recipients) to carry to one domain.
pub struct Parcel<'a> {
    pub envelope: OutgoingEnvelope,
    /// Opens the stored body; called once per try.
    pub open_body: &'a (dyn Fn() -> io::Result<Box<dyn Read + Send>> + Sync),
}

/// Delivery settings that the daemon reads from its config.
#[derive(Debug, Clone)]
pub struct DelivererSettings {
    pub client: ClientSettings,
    pub destination_concurrency: usize,
    pub messages_per_connection: usize,
    /// Our name and listeners: routes never lead back to us.
    pub this_host: ThisHost,
}

/// Outbound TLS settings (SPEC §2 `[outbound]`).
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub mode: TlsMode,
    pub failure: TlsFailure,
    /// How long a destination whose STARTTLS failed goes straight to plaintext.
    pub memory: Duration,
    pub plaintext_retry: PlaintextRetry,
}

/// Everything a SIGHUP may replace: routing, the access map and TLS settings. An attempt
/// keeps the one it started with.
pub struct Routing {
    pub router: Router,
    pub access: Arc<AccessMap>,
    pub tls: TlsSettings,
}

/// Carries messages out: routing, connection reuse, per-destination concurrency.
pub struct Deliverer {
    /// Replaced on SIGHUP; attempts keep the one they started with.
    routing: RwLock<Arc<Routing>>,
    memory: TlsMemory,
    tls: TlsClient,
    settings: DelivererSettings,
    destinations: Destinations,
}

impl Deliverer {
    pub fn new(
        routing: Routing,
        tls: TlsClient,
        memory: TlsMemory,
        settings: DelivererSettings,
    ) -> Self {
        Deliverer {
            routing: RwLock::new(Arc::new(routing)),
            memory,
            tls,
            destinations: Destinations::new(settings.destination_concurrency),
            settings,
        }
    }

    /// The broken-TLS memory it records failed handshakes in; the server shares it for
    /// its inbound entries.
    pub fn tls_memory(&self) -> &TlsMemory {
        &self.memory
    }

    /// From now on, the recipient domain (lower case) of every destination whose
    /// connection slot frees: the moment to retry what got [`Delivery::DestinationBusy`].
    pub fn watch_freed(&self) -> UnboundedReceiver<String> {
        self.destinations.watch_freed()
    }

    /// One attempt for every recipient of `parcel`, all at `domain`; at once
    /// [`Delivery::DestinationBusy`] when the destination has no free connection slot.
    pub async fn deliver(&self, domain: &Domain, parcel: &Parcel<'_>) -> Delivery {
        let key = domain.lookup_key();
        let destination = self.destinations.get(&key);
        let Some(_slot) = self.destinations.try_slot(&destination) else {
            return Delivery::DestinationBusy;
        };
        let count = parcel.envelope.recipients.len();
        let routing = self.routing();
        let routed = routing
            .router
            .route(domain)
            .await
            .and_then(|route| self.settings.this_host.exclude_self(&key, route));
        let route = match routed {
            Ok(route) => route,
            Err(RouteError::Permanent { code, status, text }) => {
                let reply = format!("{code} {status} {text}");
                return Failure::new(Outcome::Failed, status, reply).delivery(count);
            }
            Err(RouteError::Temporary { text }) => {
                let status = EnhancedStatus::new(4, 4, 3);
                return Failure::new(Outcome::Deferred, status, text).delivery(count);
            }
        };
        let limit = self.settings.messages_per_connection;
        if let Some(mut connection) = destination.take_idle(&route) {
            if let Ok(result) = send(&mut connection, parcel).await {
                let reports = reports(&connection, &result, count);
                destination.keep_idle(connection, limit);
                return Delivery::Attempted(reports);
            }
            // A stale idle connection: fall through to a fresh one.
        }
        let mut last = Failure::new(
            Outcome::Deferred,
            EnhancedStatus::new(4, 4, 1),
            "no addresses to try".into(),
        );
        for hop in &route.hops {
            for ip in &hop.addresses {
                let target = Target {
                    address: SocketAddr::new(*ip, hop.port),
                    host: &hop.host,
                    recipient_domain: &key,
                };
                match self.attempt(&routing, &target, parcel).await {
                    Ok((connection, result)) => {
                        let reports = reports(&connection, &result, count);
                        destination.keep_idle(connection, limit);
                        return Delivery::Attempted(reports);
                    }
                    Err(failure) => last = failure,
                }
            }
        }
        last.delivery(count)
    }

    /// One address: the TLS policy for it, the connection (with STARTTLS, a fallback or
    /// not, as the policy says), the policy's requirements, then the message.
    async fn attempt(
        &self,
        routing: &Routing,
        target: &Target<'_>,
        parcel: &Parcel<'_>,
    ) -> Result<(Connection, TransactionResult), Failure> {
        let policy = outbound_policy(
            routing.tls.mode,
            &routing.access,
            &TlsDestination {
                host: target.host,
                ip: Some(target.address.ip()),
                recipient_domain: target.recipient_domain,
            },
        );
        let label = policy.label();
        let remembered = if policy.allows_plaintext() {
            self.memory
                .broken(target.host, Some(target.address.ip()), SystemTime::now())
        } else {
            None
        };
        if let Some(remembered) = &remembered {
            maillog::starttls_skipped(target.host, remembered);
        }
        let starttls = policy.sends_starttls() && remembered.is_none();
        let opened = Connection::open(
            target.address,
            target.host,
            &self.settings.client,
            &self.tls,
            starttls,
        )
        .await;
        let mut connection = match opened {
            Ok(connection) => connection,
            Err(ConnectionError::StartTls(failure)) => {
                self.after_starttls_failure(routing, &policy, target, failure)
                    .await?
            }
            Err(error) => return Err(Failure::connection(target, &error, &label)),
        };
        connection.cleartext_retry |= remembered.is_some();
        connection.policy = label.clone();
        if let Err(unmet) = policy.check(negotiated(&connection).as_ref()) {
            let reply = unmet.reply(policy.requirements.permanent_failure);
            tokio::spawn(connection.quit());
            let outcome = if reply.is_permanent() {
                Outcome::Failed
            } else {
                Outcome::Deferred
            };
            let status = reply.status.unwrap_or(EnhancedStatus::new(4, 7, 0));
            return Err(Failure::new(outcome, status, reply.to_string()).with_policy(&label));
        }
        match send(&mut connection, parcel).await {
            Ok(result) => Ok((connection, result)),
            Err(error) => Err(Failure::connection(target, &error, &label)),
        }
    }

    /// STARTTLS failed: fall back to plaintext when the policy allows it (logged, and
    /// remembered), else defer (SPEC §4).
    async fn after_starttls_failure(
        &self,
        routing: &Routing,
        policy: &TlsPolicy,
        target: &Target<'_>,
        failure: StartTlsFailure,
    ) -> Result<Connection, Failure> {
        let label = policy.label();
        let fallback = policy.allows_plaintext() && routing.tls.failure == TlsFailure::Plaintext;
        let defer = |text: String| {
            Failure::new(Outcome::Deferred, EnhancedStatus::new(4, 7, 0), text).with_policy(&label)
        };
        if !fallback {
            maillog::starttls_failed(target.host, &failure, TlsAction::Defer);
            return Err(defer(format!(
                "403 4.7.0 TLS handshake failed ({}); policy {label} requires TLS",
                failure.reason
            )));
        }
        maillog::starttls_failed(target.host, &failure, TlsAction::Plaintext);
        let remember = !routing.tls.memory.is_zero();
        if remember {
            let ip = Some(target.address.ip());
            let now = SystemTime::now();
            let recorded = self.memory.remember_async(
                target.host.to_owned(),
                ip,
                failure.reason.clone(),
                routing.tls.memory,
                now,
            );
            if let Err(error) = recorded.await {
                tracing::warn!(%error, "cannot record broken TLS");
            }
        }
        if routing.tls.plaintext_retry == PlaintextRetry::NextAttempt && remember {
            return Err(defer(format!(
                "403 4.7.0 TLS handshake failed ({}); the next attempt goes in plaintext",
                failure.reason
            )));
        }
        let mut connection = Connection::open(
            target.address,
            target.host,
            &self.settings.client,
            &self.tls,
            false,
        )
        .await
        .map_err(|error| Failure::connection(target, &error, &label))?;
        connection.cleartext_retry = true;
        Ok(connection)
    }

    /// Routes and applies TLS policy with `routing` from now on (SIGHUP).
    pub fn replace_routing(&self, routing: Routing) {
        let mut guard = match self.routing.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(routing);
    }

    fn routing(&self) -> Arc<Routing> {
        match self.routing.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

async fn send(
    connection: &mut Connection,
    parcel: &Parcel<'_>,
) -> Result<TransactionResult, ConnectionError> {
    let mut body = (parcel.open_body)().map_err(ConnectionError::Io)?;
    connection.send(&parcel.envelope, body.as_mut()).await
}

fn reports(
    connection: &Connection,
    result: &TransactionResult,
    count: usize,
) -> Vec<RecipientReport> {
    let relay = format!(
        "{}. [{}]",
        connection.host.trim_end_matches('.'),
        connection.address.ip()
    );
    let remote_dsn = connection
        .capabilities()
        .is_some_and(|capabilities| capabilities.dsn);
    (0..count)
        .map(|index| {
            let (outcome, reply) = match result.outcome(index) {
                RecipientOutcome::Delivered(reply) => (Outcome::Delivered, reply),
                RecipientOutcome::Deferred(reply) => (Outcome::Deferred, reply),
                RecipientOutcome::Failed(reply) => (Outcome::Failed, reply),
            };
            RecipientReport {
                outcome,
                status: status_of(&reply),
                reply: reply.to_string(),
                relay: Some(relay.clone()),
                tls: connection.tls.as_ref().map(|tls| tls.version),
                verify: connection.verify(),
                remote_dsn,
                policy: connection.policy.clone(),
            }
        })
        .collect()
}

/// The enhanced status of a reply, or the generic one for its class (RFC 3463 §3.1).
fn status_of(reply: &Reply) -> EnhancedStatus {
    reply.status.unwrap_or_else(|| {
        let class = u8::try_from(reply.code / 100).unwrap_or(4);
        EnhancedStatus::new(class, 0, 0)
    })
}

/// Where one try goes.
struct Target<'a> {
    address: SocketAddr,
    host: &'a str,
    recipient_domain: &'a str,
}

/// An attempt that delivered nothing: the same result for every recipient.
#[derive(Debug, Clone)]
struct Failure {
    outcome: Outcome,
    status: EnhancedStatus,
    reply: String,
    policy: String,
}

impl Failure {
    fn new(outcome: Outcome, status: EnhancedStatus, reply: String) -> Self {
        Failure {
            outcome,
            status,
            reply,
            policy: String::new(),
        }
    }

    fn with_policy(mut self, label: &str) -> Self {
        self.policy = label.to_owned();
        self
    }

    /// A connection that failed: deferred (RFC 5321 §5.1: the next MX is tried, and a
    /// refusal of the whole session is never final for the recipients).
    fn connection(target: &Target<'_>, error: &ConnectionError, label: &str) -> Self {
        tracing::debug!(host = %target.host, address = %target.address, %error, "delivery attempt failed");
        let reply = describe_failure(target.host, target.address, error);
        let status = error
            .reply()
            .and_then(|reply| reply.status)
            .filter(|status| status.class == 4)
            .unwrap_or(EnhancedStatus::new(4, 4, 1));
        Failure::new(Outcome::Deferred, status, reply).with_policy(label)
    }

    fn delivery(&self, count: usize) -> Delivery {
        Delivery::Attempted(self.reports(count))
    }

    fn reports(&self, count: usize) -> Vec<RecipientReport> {
        let report = RecipientReport {
            outcome: self.outcome,
            reply: self.reply.clone(),
            status: self.status,
            relay: None,
            tls: None,
            verify: Verify::None,
            remote_dsn: false,
            policy: self.policy.clone(),
        };
        vec![report; count]
    }
}

/// What the session offers the policy's requirement check.
fn negotiated(connection: &Connection) -> Option<Negotiated<'_>> {
    connection.tls.as_ref().map(|tls| Negotiated {
        verified: tls.verify == Verify::Ok,
        bits: tls.bits,
        names: &tls.peer_names,
    })
}

/// The deferral reason sendmail administrators know: `Connection refused by host.`.
fn describe_failure(host: &str, address: SocketAddr, error: &ConnectionError) -> String {
    let host = host.trim_end_matches('.');
    match error {
        ConnectionError::Connect(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
            format!("Connection refused by {host}. [{}]", address.ip())
        }
        ConnectionError::Connect(error) if error.kind() == io::ErrorKind::TimedOut => {
            format!("Connection timed out with {host}. [{}]", address.ip())
        }
        other => format!("{other} (with {host}. [{}])", address.ip()),
    }
}
