//! The per-connection driver: moves bytes between the socket and the sans-IO session and
//! carries out what the session asks (TLS upgrade, storage, commit, close).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use posthorn_config::ListenerKind;
use posthorn_policy::ConnectDecision;
use posthorn_proto::session::{Action, Phase, ServerSession, SessionConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::timeout;

use crate::client_policy::ClientPolicy;
use crate::maillog;
use crate::settings::Settings;
use crate::storage::{Incoming, SessionFacts};
use crate::stream::Stream;
use crate::Shared;

const READ_BUFFER: usize = 16 * 1024;

/// Why a session ended early (for the debug log only: the client already got its reply).
#[derive(Debug)]
enum End {
    Io(io::Error),
    TlsFailed,
}

/// Serves one accepted connection to completion.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    kind: ListenerKind,
    shutdown: watch::Receiver<bool>,
) {
    let settings = shared.settings();
    let relay_label = format!("[{}]", peer.ip());
    let mut driver = Driver {
        settings: &settings,
        shared: &shared,
        peer,
        relay_label: &relay_label,
        may_relay: false,
        incoming: None,
        shutdown,
    };
    let stream = match kind {
        ListenerKind::Smtps => match driver.implicit_tls(tcp).await {
            Some(stream) => stream,
            None => return,
        },
        _ => Stream::Plain(tcp),
    };
    let mut session = driver.open_session(kind);
    match driver.run(stream, &mut session).await {
        Err(End::Io(error)) => tracing::debug!(peer = %peer, %error, "connection lost"),
        Err(End::TlsFailed) | Ok(()) => {}
    }
}

struct Driver<'a> {
    settings: &'a Settings,
    shared: &'a Shared,
    peer: SocketAddr,
    relay_label: &'a str,
    may_relay: bool,
    incoming: Option<Incoming>,
    shutdown: watch::Receiver<bool>,
}

impl Driver<'_> {
    fn session_config(&self, kind: ListenerKind) -> SessionConfig {
        let config = &self.settings.config;
        let mut session = SessionConfig::new(config.hostname.clone());
        session.max_message_size = config.limits.message_size;
        session.max_recipients = config.limits.recipients;
        session.max_errors = config.limits.errors;
        session.implicit_tls = kind == ListenerKind::Smtps;
        session.extensions.starttls = kind != ListenerKind::Smtps;
        session.auth_required = kind == ListenerKind::Submission;
        session
    }

    /// The session, or a refusing one when the access map rejects this client.
    fn open_session(&mut self, kind: ListenerKind) -> ServerSession {
        let config = self.session_config(kind);
        let client = posthorn_policy::Client {
            ip: self.peer.ip(),
            hostname: None,
            authenticated: false,
        };
        match self.settings.relay.check_connect(&client) {
            ConnectDecision::Accept { may_relay } => {
                self.may_relay = may_relay;
                ServerSession::new(config)
            }
            ConnectDecision::Reject(reply) => {
                tracing::info!(target: "posthorn::mail", ruleset = "check_relay", arg1 = %self.relay_label, relay = %self.relay_label, reject = %reply);
                ServerSession::refuse(config, &reply)
            }
        }
    }

    async fn implicit_tls(&self, tcp: tokio::net::TcpStream) -> Option<Stream> {
        let limit = self.settings.config.timeouts.tls_handshake;
        let handshake = Stream::Plain(tcp).upgrade(Arc::clone(&self.settings.tls));
        match timeout(limit, handshake).await {
            Ok(Ok(stream)) => {
                maillog::starttls_server(self.relay_label, &stream);
                Some(stream)
            }
            Ok(Err((error, _))) => {
                maillog::starttls_server_failed(self.relay_label, &error.to_string());
                None
            }
            Err(_) => {
                maillog::starttls_server_failed(self.relay_label, "handshake timed out");
                None
            }
        }
    }

    async fn run(&mut self, mut stream: Stream, session: &mut ServerSession) -> Result<(), End> {
        let mut buffer = vec![0u8; READ_BUFFER];
        let mut authenticated = false;
        loop {
            let mut policy = ClientPolicy {
                relay: &self.settings.relay,
                ip: self.peer.ip(),
                hostname: None,
                authenticated,
                may_relay: self.may_relay,
                relay_label: self.relay_label,
            };
            match session.poll(&mut policy) {
                Action::NeedInput => {
                    flush(&mut stream, session).await?;
                    if !self.read(&mut stream, session, &mut buffer).await? {
                        return Ok(());
                    }
                }
                Action::StartTls => {
                    flush(&mut stream, session).await?;
                    stream = self.start_tls(stream).await?;
                    session.tls_established();
                }
                Action::StartMessage(transaction) => {
                    let transaction = transaction.clone();
                    let facts = self.facts(session, &stream);
                    let opened = Incoming::open(&self.shared.spool, &transaction, facts);
                    let result = opened.map(|incoming| self.incoming = Some(incoming));
                    session.storage_ready(result);
                }
                Action::Body(bytes) => {
                    if let Some(incoming) = self.incoming.as_mut() {
                        incoming.write(bytes);
                    }
                }
                Action::EndMessage => {
                    let result = match self.incoming.take() {
                        Some(incoming) => incoming.commit(self.relay_label).await,
                        None => Err(crate::storage::local_error()),
                    };
                    if let Ok(id) = &result {
                        self.shared.queued(id.clone());
                    }
                    session.message_stored(result.map(|id| id.to_string()));
                }
                Action::AbortMessage => self.incoming = None,
                Action::Close => {
                    flush(&mut stream, session).await?;
                    let _ = stream.shutdown().await;
                    return Ok(());
                }
            }
            authenticated = session.auth_id().is_some();
        }
    }

    /// Reads more input under the phase's timeout; false when the client went away.
    async fn read(
        &mut self,
        stream: &mut Stream,
        session: &mut ServerSession,
        buffer: &mut [u8],
    ) -> Result<bool, End> {
        let timeouts = &self.settings.config.timeouts;
        let limit = match session.phase() {
            Phase::Data => timeouts.data_block,
            Phase::Command | Phase::Owner => timeouts.command,
        };
        if *self.shutdown.borrow() && session.shut_down() {
            return Ok(true);
        }
        tokio::select! {
            read = timeout(limit, stream.read(buffer)) => match read {
                Ok(Ok(0)) => Ok(false),
                Ok(Ok(count)) => {
                    session.receive(&buffer[..count]);
                    Ok(true)
                }
                Ok(Err(error)) => Err(End::Io(error)),
                Err(_) => {
                    session.timed_out();
                    Ok(true)
                }
            },
            _ = self.shutdown.changed() => {
                session.shut_down();
                Ok(true)
            }
        }
    }

    async fn start_tls(&self, stream: Stream) -> Result<Stream, End> {
        let limit = self.settings.config.timeouts.tls_handshake;
        let upgrade = stream.upgrade(Arc::clone(&self.settings.tls));
        match timeout(limit, upgrade).await {
            Ok(Ok(stream)) => {
                maillog::starttls_server(self.relay_label, &stream);
                Ok(stream)
            }
            Ok(Err((error, _))) => {
                maillog::starttls_server_failed(self.relay_label, &error.to_string());
                Err(End::TlsFailed)
            }
            Err(_) => {
                maillog::starttls_server_failed(self.relay_label, "handshake timed out");
                Err(End::TlsFailed)
            }
        }
    }

    fn facts(&self, session: &ServerSession, stream: &Stream) -> SessionFacts {
        SessionFacts {
            hostname: self.settings.config.hostname.clone(),
            helo: session.helo_name().unwrap_or_default().to_owned(),
            client_ip: self.peer.ip(),
            client_name: None,
            protocol: session.protocol(),
            auth_id: session.auth_id().map(str::to_owned),
            tls: stream.tls_state().and_then(posthorn_tls::summarize),
        }
    }
}

/// Writes out every pending reply.
async fn flush(stream: &mut Stream, session: &mut ServerSession) -> Result<(), End> {
    if session.output().is_empty() {
        return Ok(());
    }
    stream.write_all(session.output()).await.map_err(End::Io)?;
    stream.flush().await.map_err(End::Io)?;
    session.clear_output();
    Ok(())
}

/// How long a stopping server waits for sessions in the middle of a message.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(30);
