//! Listeners, the accept loops, signals (SIGTERM/SIGINT stop, SIGHUP reloads) and the
//! graceful stop that lets messages in flight finish.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use posthorn_config::{Config, ListenerKind};
use posthorn_proto::{EnhancedStatus, Reply};
use posthorn_spool::{Recovery, Spool};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;

use posthorn_auth::FailureThrottle;
use posthorn_delivery::Deliverer;
use posthorn_queue::runner::{QueueCommand, Scheduler};
use posthorn_queue::Backlog;
use posthorn_spool::QueuedMessage;
use tokio::sync::mpsc;

use crate::admission::{Admission, Refusal};
use crate::connection::{self, DRAIN_LIMIT};
use crate::control::{self, ControlRequest, ControlSocket};
use crate::outbound;
use crate::settings::{self, CertificateReport, Settings};
use crate::ServerError;

/// State shared by every session of the daemon.
pub(crate) struct Shared {
    settings: RwLock<Arc<Settings>>,
    pub(crate) spool: Spool,
    admission: Admission,
    /// Tells the scheduler about new messages.
    queue: mpsc::Sender<QueueCommand>,
    /// Also holds the spool's broken-TLS memory, whose `client:IP` entries are the
    /// clients not offered STARTTLS for `inbound.tls_failure_memory`.
    pub(crate) deliverer: Arc<Deliverer>,
    /// Failed AUTH attempts per client IP (`auth.max_failures` in `auth.failure_window`).
    pub(crate) auth_throttle: FailureThrottle,
    /// New messages waiting for delivery: arrivals pause while it is full.
    pub(crate) backlog: Backlog,
}

impl Shared {
    /// The current settings snapshot.
    pub(crate) fn settings(&self) -> Arc<Settings> {
        match self.settings.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// A message was committed: deliver it now. When the scheduler is busy the periodic
    /// spool scan finds the message instead.
    pub(crate) fn accepted(&self, message: QueuedMessage) {
        let _ = self
            .queue
            .try_send(QueueCommand::Accepted(Box::new(message)));
    }

    fn replace_settings(&self, settings: Settings) {
        let mut guard = match self.settings.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(settings);
    }
}

/// A bound, recovered, ready-to-run server.
pub struct Server {
    shared: Arc<Shared>,
    listeners: Vec<(TcpListener, ListenerKind)>,
    recovery: Recovery,
    scheduler: Scheduler,
    queue_commands: mpsc::Receiver<QueueCommand>,
    signals: Signals,
    control: ControlSocket,
}

/// The signals the daemon answers, installed before any listener is bound: a SIGHUP or
/// SIGTERM that arrives as soon as the port accepts must not kill the process.
struct Signals {
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
}

impl Signals {
    fn install() -> Result<Signals, ServerError> {
        Ok(Signals {
            terminate: signal(SignalKind::terminate()).map_err(ServerError::Signal)?,
            interrupt: signal(SignalKind::interrupt()).map_err(ServerError::Signal)?,
            hangup: signal(SignalKind::hangup()).map_err(ServerError::Signal)?,
        })
    }
}

/// Room for queue notifications waiting for the scheduler: a burst beyond it is
/// found by the scheduler's periodic directory scan, up to a minute later.
const QUEUE_CHANNEL: usize = 65_536;

/// Finished messages' files kept for new ones to be written over (see the
/// spool's `spares.rs`): enough for a backlog of a few seconds at a few thousand
/// messages a second, in at most 64 MiB of disk.
const SPARE_SPOOL_FILES: usize = 8192;
const SPARE_SPOOL_BYTES: u64 = 64 << 20;

impl Server {
    /// Opens and recovers the spool, prepares TLS and binds every listener.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        let signals = Signals::install()?;
        let spool = Spool::open_with_spares(&config.spool, SPARE_SPOOL_FILES, SPARE_SPOOL_BYTES)
            .map_err(|source| ServerError::Spool {
                path: config.spool.clone(),
                source,
            })?;
        // The control socket first: it refuses a second daemon on the same spool before
        // recovery could touch files the running one is writing.
        let control_path = control::socket_path(spool.path());
        let control =
            ControlSocket::bind(control_path.clone()).map_err(|source| ServerError::Control {
                path: control_path,
                source,
            })?;
        let recovery = spool.recover().map_err(|source| ServerError::Spool {
            path: config.spool.clone(),
            source,
        })?;
        let mut listeners = Vec::with_capacity(config.listeners.len());
        for listener in &config.listeners {
            let bound = TcpListener::bind(listener.address)
                .await
                .map_err(|source| ServerError::Bind {
                    address: listener.address,
                    source,
                })?;
            listeners.push((bound, listener.kind));
        }
        let admission = Admission::new(
            config.limits.sessions,
            config.limits.connections_per_ip_per_minute,
        );
        // Read once: the relay policy and the outbound routing share this map.
        let access = settings::load_access_map(&config)?;
        let (scheduler, deliverer) = outbound::scheduler(&config, &spool, Arc::clone(&access))?;
        let backlog = scheduler.backlog();
        let config_auth = config.auth.clone();
        let settings = Settings::load(config, access)?;
        let (queue, queue_commands) = mpsc::channel(QUEUE_CHANNEL);
        let auth_throttle = posthorn_auth::throttle_from_config(&config_auth);
        let shared = Arc::new(Shared {
            settings: RwLock::new(Arc::new(settings)),
            spool,
            admission,
            queue,
            deliverer,
            auth_throttle,
            backlog,
        });
        Ok(Server {
            shared,
            listeners,
            recovery,
            scheduler,
            queue_commands,
            signals,
            control,
        })
    }

    /// The addresses actually bound (port 0 in the config gives a free port).
    pub fn local_addresses(&self) -> Vec<(SocketAddr, ListenerKind)> {
        self.listeners
            .iter()
            .filter_map(|(listener, kind)| Some((listener.local_addr().ok()?, *kind)))
            .collect()
    }

    pub fn certificate(&self) -> CertificateReport {
        self.shared.settings().certificate.clone()
    }

    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    pub fn spool_path(&self) -> &Path {
        self.shared.spool.path()
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting, lets sessions with a message
    /// in flight finish (bounded) and returns.
    pub async fn run(self) -> Result<(), ServerError> {
        let Signals {
            mut terminate,
            mut interrupt,
            mut hangup,
        } = self.signals;
        let (stop, stopping) = watch::channel(false);
        let scheduler = tokio::spawn(self.scheduler.run(
            self.recovery.messages,
            self.queue_commands,
            stopping.clone(),
        ));
        let control = tokio::spawn(serve_control(
            Arc::clone(&self.shared),
            self.control,
            stopping.clone(),
        ));
        let mut accept_loops = Vec::new();
        for (listener, kind) in self.listeners {
            let shared = Arc::clone(&self.shared);
            let stopping = stopping.clone();
            accept_loops.push(tokio::spawn(accept_loop(shared, listener, kind, stopping)));
        }
        loop {
            tokio::select! {
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
                _ = hangup.recv() => reload(&self.shared),
            }
        }
        tracing::info!("stopping: no new connections");
        let _ = stop.send(true);
        for task in accept_loops {
            let _ = task.await;
        }
        drain(&self.shared).await;
        let _ = scheduler.await;
        let _ = control.await;
        Ok(())
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    kind: ListenerKind,
    mut stopping: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopping.changed() => return,
        };
        match accepted {
            Ok((tcp, peer)) => admit(&shared, tcp, peer, kind, &stopping),
            Err(error) => {
                // EMFILE/ENFILE and friends: back off instead of spinning on accept.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

fn admit(
    shared: &Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    kind: ListenerKind,
    stopping: &watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    match shared.admission.admit(peer.ip(), Instant::now()) {
        Ok(slot) => {
            let shared = Arc::clone(shared);
            let stopping = stopping.clone();
            tokio::spawn(async move {
                connection::serve(shared, tcp, peer, kind, stopping).await;
                drop(slot);
            });
        }
        Err(refusal) => {
            let hostname = shared.settings().config.hostname.clone();
            tracing::info!(target: "posthorn::mail", relay = %format_args!("[{}]", peer.ip()), reject = ?refusal);
            tokio::spawn(turn_away(tcp, hostname, refusal));
        }
    }
}

/// Answers a connection that may not have a session with 421 and closes it.
async fn turn_away(mut tcp: TcpStream, hostname: String, refusal: Refusal) {
    let text = match refusal {
        Refusal::TooManySessions => "Too many concurrent SMTP connections; try again later",
        Refusal::RateExceeded => "Too many connections from your address; try again later",
    };
    let reply = Reply::new(
        421,
        EnhancedStatus::new(4, 7, 0),
        format!("{hostname} {text}"),
    );
    let mut wire = Vec::new();
    reply.write_to(&mut wire);
    let write = async {
        tcp.write_all(&wire).await?;
        tcp.shutdown().await
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), write).await;
}

/// The control socket: `queue flush` and local submissions reach the scheduler here.
async fn serve_control(
    shared: Arc<Shared>,
    socket: ControlSocket,
    stopping: watch::Receiver<bool>,
) {
    let (requests, mut received) = mpsc::channel(64);
    let path = control::socket_path(shared.spool.path());
    let listener = tokio::spawn(socket.serve(requests, stopping));
    while let Some(request) = received.recv().await {
        let command = match request {
            ControlRequest::Flush(id) => QueueCommand::Flush(id),
            ControlRequest::Queued(id) => QueueCommand::Queued(id),
        };
        let _ = shared.queue.send(command).await;
    }
    if let Ok(Err(error)) = listener.await {
        tracing::error!(%error, path = %path.display(), "control socket failed");
    }
}

/// SIGHUP: read the config and maps again; a broken new config keeps the old one running.
fn reload(shared: &Shared) {
    let current = shared.settings();
    let source = current.config.source.clone();
    let loaded = Config::load(source.as_deref())
        .map_err(ServerError::from)
        .and_then(settings::load_with_routing);
    match loaded {
        Ok((routing, settings)) => {
            shared.deliverer.replace_routing(routing);
            if settings.config.listeners != current.config.listeners {
                tracing::warn!("listener changes take effect at the next restart");
            }
            shared.replace_settings(settings);
            tracing::info!("configuration and maps reloaded");
        }
        Err(error) => tracing::error!(%error, "reload failed; keeping the running configuration"),
    }
}

/// Waits for open sessions to end, at most [`DRAIN_LIMIT`].
async fn drain(shared: &Shared) {
    let deadline = Instant::now() + DRAIN_LIMIT;
    while shared.admission.active() > 0 && Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let left = shared.admission.active();
    if left > 0 {
        tracing::warn!(
            sessions = left,
            "stopping with sessions still open; nothing they sent was acknowledged"
        );
    }
}
