//! The per-connection driver: moves bytes between the socket and the sans-IO session and
//! carries out what the session asks (TLS upgrade, storage, commit, close); it reads
//! through `reading.rs` (greet pause, deadlines, DATA rate). The flushing and session
//! limits here serve the local driver (`local.rs`) too.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use posthorn_config::{Config, ListenerKind, Timeouts};
use posthorn_policy::ConnectDecision;
use posthorn_proto::session::{
    Action, AuthVerdict, Credentials, Phase, ServerSession, SessionConfig,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::timeout;

use crate::client_policy::ClientPolicy;
use crate::features::ClientRules;
use crate::inbound_tls::InboundTls;
use crate::maillog;
use crate::pace::{Pace, PaceLimits};
use crate::read_buffer::ReadBuffer;
use crate::reading::{listen_before_greeting, read_paced};
use crate::settings::Settings;
use crate::storage::{MessageHandoff, Origin};
use crate::stream::Stream;
use crate::Shared;

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
        rules: ClientRules::look_up(settings.relay.access(), None, peer.ip()),
        tls: None,
        handoff: MessageHandoff::new(&shared.spool, origin),
        identity: None,
        shutdown,
    };
    let stream = match kind {
        ListenerKind::Smtps => match driver.handshake(Stream::Plain(tcp)).await {
            Ok(stream) => stream,
            Err(_) => return,
        },
        _ => Stream::Plain(tcp),
    };
    let mut session = driver.open_session(kind);
    let mut stream = stream;
    let pause = settings.config.timeouts.greet_pause;
    match listen_before_greeting(&mut stream, &mut session, pause).await {
        Ok(true) => {}
        Ok(false) | Err(_) => return,
    }
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
    /// `Srv_Features:` and `TLS_Clt:` for this client.
    rules: ClientRules,
    /// What the TLS handshake established, once there was one.
    tls: Option<InboundTls>,
    handoff: MessageHandoff<'a>,
    /// Who the client authenticated as.
    identity: Option<String>,
    shutdown: watch::Receiver<bool>,
}

impl Driver<'_> {
    fn session_config(&self, kind: ListenerKind) -> SessionConfig {
        let mut session = session_config(&self.settings.config);
        if self.settings.authenticator.is_some() {
            // Offered only once TLS is active: the session enforces that.
            session.extensions.auth_mechanisms = vec!["PLAIN", "LOGIN"];
        }
        session.implicit_tls = kind == ListenerKind::Smtps;
        session.extensions.starttls = kind != ListenerKind::Smtps;
        session.auth_required = kind == ListenerKind::Submission;
        self.rules.features.apply(&mut session);
        if session.extensions.starttls && self.tls_remembered_broken() {
            session.extensions.starttls = false;
        }
        session
    }

    /// Whether this client's STARTTLS handshakes failed lately, so it is not offered
    /// STARTTLS this session (its mail then comes in plaintext); logged when so.
    fn tls_remembered_broken(&self) -> bool {
        if self.settings.config.inbound.tls_failure_memory.is_zero() {
            return false;
        }
        let memory = self.shared.deliverer.tls_memory();
        match memory.broken_client(self.peer.ip(), SystemTime::now()) {
            Some(entry) => {
                maillog::starttls_server_skipped(self.relay_label, &entry);
                true
            }
            None => false,
        }
    }

    /// Remembers that this client's STARTTLS handshake failed (SPEC §4, inbound).
    async fn remember_broken_tls(&self, reason: String) -> End {
        let ttl = self.settings.config.inbound.tls_failure_memory;
        let memory = self.shared.deliverer.tls_memory();
        let recorded = memory.remember_client_async(self.peer.ip(), reason, ttl, SystemTime::now());
        if let Err(error) = recorded.await {
            tracing::warn!(file = %memory.path().display(), %error, "cannot record a client's broken TLS");
        }
        End::TlsFailed
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

    /// The server side of a TLS handshake (SMTPS or STARTTLS), asking for a client
    /// certificate when the client's features say so, logged either way; the reason
    /// when it failed or timed out.
    async fn handshake(&mut self, stream: Stream) -> Result<Stream, String> {
        let (config, roots) = self
            .settings
            .tls_for(self.rules.features.request_certificate);
        let limit = self.settings.config.timeouts.tls_handshake;
        let reason = match timeout(limit, stream.upgrade(config)).await {
            Ok(Ok(stream)) => {
                self.tls = InboundTls::of(&stream, roots);
                if let Some(tls) = &self.tls {
                    maillog::starttls_server(self.relay_label, tls);
                }
                return Ok(stream);
            }
            Ok(Err((error, _))) => error.to_string(),
            Err(_) => "handshake timed out".to_owned(),
        };
        maillog::starttls_server_failed(self.relay_label, &reason);
        Err(reason)
    }

    /// Checks AUTH credentials: throttled clients are refused before any check; every
    /// outcome is logged as sendmail logs `AUTH=server`.
    async fn authenticate(&mut self, credentials: &Credentials) -> AuthVerdict {
        let ip = self.peer.ip();
        let throttle = &self.shared.auth_throttle;
        let line = maillog::AuthLine {
            relay: self.relay_label,
            authid: &credentials.username,
            mechanism: credentials.mechanism.name(),
            bits: self.tls.as_ref().map_or(0, |tls| tls.summary.bits),
        };
        if throttle.is_throttled(ip, Instant::now()) {
            maillog::auth_refused(&line, "421 4.7.0 too many failed authentications");
            return AuthVerdict::Throttled;
        }
        let Some(authenticator) = &self.settings.authenticator else {
            return AuthVerdict::Temporary;
        };
        let checked = authenticator
            .verify(&credentials.username, &credentials.password, Some(ip))
            .await;
        match checked {
            Ok(posthorn_auth::Verdict::Accepted { identity }) => {
                throttle.record_success(ip);
                maillog::auth_accepted(&line);
                self.identity = Some(identity.clone());
                AuthVerdict::Accepted { identity }
            }
            Ok(posthorn_auth::Verdict::Rejected) => {
                throttle.record_failure(ip, Instant::now());
                maillog::auth_refused(&line, "535 5.7.8 Authentication credentials invalid");
                AuthVerdict::Rejected
            }
            Err(error) => {
                tracing::error!(%error, "authentication backend failed");
                maillog::auth_refused(&line, "454 4.7.0 Temporary authentication failure");
                AuthVerdict::Temporary
            }
        }
    }

    /// The policy the session asks at MAIL and RCPT, with what is known right now.
    fn policy(&self, authenticated: bool) -> ClientPolicy<'_> {
        ClientPolicy {
            relay: &self.settings.relay,
            ip: self.peer.ip(),
            hostname: None,
            authenticated,
            identity: self.identity.as_deref(),
            sender_must_match: self.settings.config.auth.sender_must_match,
            our_hostname: &self.settings.config.hostname,
            may_relay: self.may_relay,
            relay_label: self.relay_label,
            tls_requirement: self.rules.tls_requirement.as_ref(),
            tls: self.tls.as_ref(),
            spool: self.shared.spool.path(),
            message_size: self.settings.config.limits.message_size,
        }
    }

    async fn run(&mut self, mut stream: Stream, session: &mut ServerSession) -> Result<(), End> {
        let mut buffer = ReadBuffer::new();
        let mut authenticated = false;
        let limits = PaceLimits::from_config(&self.settings.config.timeouts);
        let mut pace = Pace::new(limits, Instant::now());
        loop {
            let mut policy = self.policy(authenticated);
            match session.poll(&mut policy) {
                Action::NeedInput => {
                    if !session.output().is_empty() {
                        pace.replied(Instant::now());
                    }
                    flush(&mut stream, session).await.map_err(End::Io)?;
                    if !self
                        .read(&mut stream, session, &mut buffer, &mut pace)
                        .await?
                    {
                        return Ok(());
                    }
                }
                Action::StartTls => {
                    flush(&mut stream, session).await.map_err(End::Io)?;
                    stream = match self.handshake(stream).await {
                        Ok(stream) => stream,
                        Err(reason) => return Err(self.remember_broken_tls(reason).await),
                    };
                    session.tls_established();
                }
                Action::Authenticate(credentials) => {
                    let credentials = credentials.clone();
                    let verdict = self.authenticate(&credentials).await;
                    session.auth_verdict(verdict);
                }
                Action::StartMessage(_) => {
                    let in_flow_delay = self.settings.config.queue.in_flow_delay;
                    self.shared.backlog.pause(in_flow_delay).await;
                    let tls = stream.tls_state().and_then(posthorn_tls::summarize);
                    self.handoff.open(session, tls);
                }
                Action::Body(bytes) => self.handoff.write(bytes),
                Action::EndMessage => {
                    buffer.message_ended();
                    if let Some(message) = self.handoff.commit(session).await {
                        self.shared.accepted(message);
                    }
                }
                Action::AbortMessage => {
                    buffer.message_ended();
                    self.handoff.abort();
                }
                Action::Close => {
                    let closed = stream.write_last_and_close(session.output()).await;
                    session.clear_output();
                    return closed.map_err(End::Io);
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
        buffer: &mut ReadBuffer,
        pace: &mut Pace,
    ) -> Result<bool, End> {
        if *self.shutdown.borrow() && session.shut_down() {
            return Ok(true);
        }
        tokio::select! {
            read = read_paced(stream, session, buffer, pace, self.relay_label) => read.map_err(End::Io),
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
    session.max_header_size = config.limits.header_size;
    session.max_hops = config.limits.hops;
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
