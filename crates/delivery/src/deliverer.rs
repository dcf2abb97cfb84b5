//! One delivery attempt for the recipients of one message at one domain: route, reuse or
//! open a connection (every address of every MX in order, RFC 5321 §5.1), send, and say
//! what happened to each recipient.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use posthorn_proto::client::{OutgoingEnvelope, RecipientOutcome, TransactionResult};
use posthorn_proto::{Domain, EnhancedStatus, Reply};
use tokio::sync::Semaphore;

use crate::connection::{ClientSettings, Connection, ConnectionError};
use crate::route::{Route, RouteError, Router};
use crate::tls::TlsClient;
use crate::verify::Verify;

/// How long an idle connection is kept for the next message to the same destination.
const IDLE_LIMIT: Duration = Duration::from_secs(5);

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
}

/// Carries messages out: routing, connection reuse, per-destination concurrency.
pub struct Deliverer {
    /// Replaced on SIGHUP (a new mailertable); attempts keep the one they started with.
    router: RwLock<Arc<Router>>,
    tls: TlsClient,
    settings: DelivererSettings,
    destinations: Mutex<HashMap<String, Arc<Destination>>>,
}

/// Shared state for one destination: how many connections may run, and idle ones.
struct Destination {
    permits: Semaphore,
    idle: Mutex<Vec<(u64, Connection)>>,
    next_idle_id: Mutex<u64>,
}

impl Deliverer {
    pub fn new(router: Router, tls: TlsClient, settings: DelivererSettings) -> Self {
        Deliverer {
            router: RwLock::new(Arc::new(router)),
            tls,
            settings,
            destinations: Mutex::new(HashMap::new()),
        }
    }

    /// One attempt for every recipient of `parcel`, all at `domain`.
    pub async fn deliver(&self, domain: &Domain, parcel: &Parcel<'_>) -> Vec<RecipientReport> {
        let count = parcel.envelope.recipients.len();
        let router = self.router();
        let route = match router.route(domain).await {
            Ok(route) => route,
            Err(RouteError::Permanent { code, status, text }) => {
                return vec![
                    local_report(
                        Outcome::Failed,
                        status,
                        format!("{code} {status} {text}")
                    );
                    count
                ];
            }
            Err(RouteError::Temporary { text }) => {
                return vec![
                    local_report(Outcome::Deferred, EnhancedStatus::new(4, 4, 3), text);
                    count
                ];
            }
        };
        let destination = self.destination(&domain.lookup_key());
        let Ok(_permit) = destination.permits.acquire().await else {
            return vec![
                local_report(
                    Outcome::Deferred,
                    EnhancedStatus::new(4, 3, 0),
                    "shutting down".into()
                );
                count
            ];
        };
        if let Some(mut connection) = take_idle(&destination, &route) {
            if let Ok(result) = send(&mut connection, parcel).await {
                let reports = reports(&connection, &result, count);
                self.release(&destination, connection);
                return reports;
            }
            // A stale idle connection: fall through to a fresh one.
        }
        let mut last_error = String::from("no addresses to try");
        for hop in &route.hops {
            for ip in &hop.addresses {
                let address = SocketAddr::new(*ip, hop.port);
                match self.try_address(address, &hop.host, parcel).await {
                    Ok((connection, result)) => {
                        let reports = reports(&connection, &result, count);
                        self.release(&destination, connection);
                        return reports;
                    }
                    Err(error) => {
                        tracing::debug!(host = %hop.host, %address, %error, "delivery attempt failed");
                        last_error = describe_failure(&hop.host, address, &error);
                    }
                }
            }
        }
        vec![local_report(Outcome::Deferred, EnhancedStatus::new(4, 4, 1), last_error); count]
    }

    /// Routes with `router` from now on (SIGHUP: config and mailertable reloaded).
    pub fn replace_router(&self, router: Router) {
        let mut guard = match self.router.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(router);
    }

    fn router(&self) -> Arc<Router> {
        match self.router.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    async fn try_address(
        &self,
        address: SocketAddr,
        host: &str,
        parcel: &Parcel<'_>,
    ) -> Result<(Connection, TransactionResult), ConnectionError> {
        let mut connection =
            Connection::open(address, host, &self.settings.client, &self.tls).await?;
        let result = send(&mut connection, parcel).await?;
        Ok((connection, result))
    }

    fn destination(&self, key: &str) -> Arc<Destination> {
        let mut destinations = lock(&self.destinations);
        Arc::clone(destinations.entry(key.to_owned()).or_insert_with(|| {
            Arc::new(Destination {
                permits: Semaphore::new(self.settings.destination_concurrency),
                idle: Mutex::new(Vec::new()),
                next_idle_id: Mutex::new(0),
            })
        }))
    }

    /// Keeps a connection for the next message, or closes it when it has carried enough.
    fn release(&self, destination: &Arc<Destination>, connection: Connection) {
        if connection.messages_sent >= self.settings.messages_per_connection {
            tokio::spawn(connection.quit());
            return;
        }
        let id = {
            let mut next = lock(&destination.next_idle_id);
            *next += 1;
            *next
        };
        lock(&destination.idle).push((id, connection));
        let destination = Arc::clone(destination);
        tokio::spawn(async move {
            tokio::time::sleep(IDLE_LIMIT).await;
            let expired = {
                let mut idle = lock(&destination.idle);
                idle.iter()
                    .position(|(candidate, _)| *candidate == id)
                    .map(|index| idle.swap_remove(index).1)
            };
            if let Some(connection) = expired {
                connection.quit().await;
            }
        });
    }
}

/// An idle connection to one of the route's hops: the route may have changed since the
/// connection was opened (new DNS answers, a reloaded mailertable).
fn take_idle(destination: &Destination, route: &Route) -> Option<Connection> {
    let mut idle = lock(&destination.idle);
    let on_route = |connection: &Connection| {
        route.hops.iter().any(|hop| {
            hop.port == connection.address.port()
                && hop.addresses.contains(&connection.address.ip())
        })
    };
    let index = idle
        .iter()
        .rposition(|(_, connection)| on_route(connection))?;
    Some(idle.swap_remove(index).1)
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

fn local_report(outcome: Outcome, status: EnhancedStatus, reply: String) -> RecipientReport {
    RecipientReport {
        outcome,
        reply,
        status,
        relay: None,
        tls: None,
        verify: Verify::None,
        remote_dsn: false,
    }
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
