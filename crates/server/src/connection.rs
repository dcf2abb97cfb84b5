//! The per-connection driver: moves bytes between the socket and the sans-IO session and
//! carries out what the session asks (TLS upgrade, storage, commit, close). The reading,
//! flushing and session limits here serve the local driver (`local.rs`) too.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use posthorn_config::{Config, ListenerKind, Timeouts};
use posthorn_policy::ConnectDecision;
use posthorn_proto::session::{Action, Phase, ServerSession, SessionConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::timeout;

use crate::client_policy::ClientPolicy;
use crate::maillog;
use crate::settings::Settings;
use crate::storage::{MessageHandoff, Origin};
use crate::stream::Stream;
use crate::Shared;

pub(crate) const READ_BUFFER: usize = 16 * 1024;

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
    let origin = Origin {
        hostname: &settings.config.hostname,
        client_ip: Some(peer.ip()),
        client_name: None,
        relay_label: &relay_label,
    };
    let mut driver = Driver {
        settings: &settings,
        shared: &shared,
        peer,
        relay_label: &relay_label,
        may_relay: false,
        handoff: MessageHandoff::new(&shared.spool, origin),
        shutdown,
    };
    let stream = match kind {
        ListenerKind::Smtps => match driver.handshake(Stream::Plain(tcp)).await {
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
    handoff: MessageHandoff<'a>,
    shutdown: watch::Receiver<bool>,
}

impl Driver<'_> {
    fn session_config(&self, kind: ListenerKind) -> SessionConfig {
        let mut session = session_config(&self.settings.config);
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

    /// The server side of a TLS handshake (SMTPS or STARTTLS), logged either way; None
    /// when it failed or timed out.
    async fn handshake(&self, stream: Stream) -> Option<Stream> {
        let limit = self.settings.config.timeouts.tls_handshake;
        let upgrade = stream.upgrade(Arc::clone(&self.settings.tls));
        match timeout(limit, upgrade).await {
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
                    flush(&mut stream, session).await.map_err(End::Io)?;
                    if !self.read(&mut stream, session, &mut buffer).await? {
                        return Ok(());
                    }
                }
                Action::StartTls => {
                    flush(&mut stream, session).await.map_err(End::Io)?;
                    stream = self.handshake(stream).await.ok_or(End::TlsFailed)?;
                    session.tls_established();
                }
                Action::StartMessage(_) => {
                    let tls = stream.tls_state().and_then(posthorn_tls::summarize);
                    self.handoff.open(session, tls);
                }
                Action::Body(bytes) => self.handoff.write(bytes),
                Action::EndMessage => {
                    if let Some(id) = self.handoff.commit(session).await {
                        self.shared.queued(id);
                    }
                }
                Action::AbortMessage => self.handoff.abort(),
                Action::Close => {
                    flush(&mut stream, session).await.map_err(End::Io)?;
                    let _ = stream.shutdown().await;
                    return Ok(());
                }
            }
            authenticated = session.auth_id().is_some();
        }
    }

    /// Reads more input, unless the server is stopping; false when the client went away.
    async fn read(
        &mut self,
        stream: &mut Stream,
        session: &mut ServerSession,
        buffer: &mut [u8],
    ) -> Result<bool, End> {
        if *self.shutdown.borrow() && session.shut_down() {
            return Ok(true);
        }
        let timeouts = &self.settings.config.timeouts;
        tokio::select! {
            read = read_with_timeout(stream, session, buffer, timeouts) => read.map_err(End::Io),
            _ = self.shutdown.changed() => {
                session.shut_down();
                Ok(true)
            }
        }
    }
}

/// The limits every session has, network or local; the caller adds TLS and AUTH.
pub(crate) fn session_config(config: &Config) -> SessionConfig {
    let mut session = SessionConfig::new(config.hostname.clone());
    session.max_message_size = config.limits.message_size;
    session.max_recipients = config.limits.recipients;
    session.max_errors = config.limits.errors;
    session
}

/// Reads more input under the timeout of the session's phase and hands it to the
/// session; a client silent past the timeout gets the session's `421`. False when the
/// input ended.
pub(crate) async fn read_with_timeout<R: AsyncRead + Unpin>(
    input: &mut R,
    session: &mut ServerSession,
    buffer: &mut [u8],
    timeouts: &Timeouts,
) -> io::Result<bool> {
    let limit = match session.phase() {
        Phase::Data => timeouts.data_block,
        Phase::Command | Phase::Owner => timeouts.command,
    };
    match timeout(limit, input.read(buffer)).await {
        Ok(Ok(0)) => Ok(false),
        Ok(Ok(count)) => {
            session.receive(&buffer[..count]);
            Ok(true)
        }
        Ok(Err(error)) => Err(error),
        Err(_) => {
            session.timed_out();
            Ok(true)
        }
    }
}

/// Writes out every pending reply.
pub(crate) async fn flush<W: AsyncWrite + Unpin>(
    output: &mut W,
    session: &mut ServerSession,
) -> io::Result<()> {
    if session.output().is_empty() {
        return Ok(());
    }
    output.write_all(session.output()).await?;
    output.flush().await?;
    session.clear_output();
    Ok(())
}

/// How long a stopping server waits for sessions in the middle of a message.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(30);
