//! One SMTP client connection: the tokio driver around the sans-IO `ClientSession` of
//! `posthorn-proto`, with opportunistic STARTTLS and one timeout per SMTP phase.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::Duration;

use posthorn_proto::client::{
    Capabilities, ClientAction, ClientConfig, ClientPhase, ClientSession, FailureReason,
    OutgoingEnvelope, SessionFailure, TransactionResult,
};
use posthorn_proto::framing::DotStuffer;
use posthorn_proto::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::maillog;
use crate::stream::ClientStream;
use crate::tls::{TlsClient, TlsOutcome};
use crate::verify::Verify;

const READ_BUFFER: usize = 16 * 1024;
const BODY_CHUNK: usize = 256 * 1024;

/// How connections are opened.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub ehlo_name: String,
    pub connect_timeout: Duration,
    /// One wait for every reply and write, instead of the RFC 5321 §4.5.3.2 timeout of
    /// each phase (`[outbound] reply_timeout`; tests make a silent server fail fast).
    pub reply_timeout: Option<Duration>,
}

/// A STARTTLS that did not give a usable TLS session (SPEC §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartTlsFailure {
    /// `PROTOCOL` (the server did not answer 220) or `SOFTWARE` (the handshake failed, the
    /// server closed, or TLS broke before MAIL).
    pub verify: Verify,
    pub reason: String,
}

/// Why a connection could not be used.
#[derive(Debug)]
pub enum ConnectionError {
    Connect(io::Error),
    Timeout(ClientPhase),
    Io(io::Error),
    /// The server refused the session or broke the protocol.
    Session(SessionFailure),
    /// STARTTLS did not give a usable TLS session.
    StartTls(StartTlsFailure),
}

impl std::fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectionError::Connect(error) => write!(f, "connect: {error}"),
            ConnectionError::Timeout(phase) => write!(f, "timeout waiting for {phase:?} reply"),
            ConnectionError::Io(error) => write!(f, "{error}"),
            ConnectionError::Session(failure) => match &failure.reply {
                Some(reply) => write!(f, "{reply}"),
                None => write!(f, "{:?}", failure.reason),
            },
            ConnectionError::StartTls(failure) => write!(f, "STARTTLS failed: {}", failure.reason),
        }
    }
}

impl ConnectionError {
    /// The server's own reply, when the failure was one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            ConnectionError::Session(failure) => failure.reply.as_ref(),
            _ => None,
        }
    }

    /// A permanent refusal of the whole session (5xx greeting): RFC 5321 §5.1 says try
    /// the next MX all the same, so no failure here is final for the recipients.
    pub fn is_service_closing(&self) -> bool {
        matches!(
            self,
            ConnectionError::Session(SessionFailure {
                reason: FailureReason::ServiceClosing,
                ..
            })
        )
    }
}

/// An open SMTP session, ready for a message.
pub struct Connection {
    stream: ClientStream,
    session: ClientSession,
    buffer: Vec<u8>,
    /// The host name used for SNI, certificate checks and logs (`relay=host.`).
    pub host: String,
    pub address: SocketAddr,
    pub tls: Option<TlsOutcome>,
    /// STARTTLS was left out on purpose after a failure (`verify=CLEAR`).
    pub cleartext_retry: bool,
    /// The TLS policy this connection was opened under (`policy=` of the log).
    pub policy: String,
    pub messages_sent: usize,
    reply_timeout: Option<Duration>,
}

impl Connection {
    /// Connects, reads the greeting, says EHLO, and, with `starttls`, upgrades to TLS
    /// when the server offers it.
    pub async fn open(
        address: SocketAddr,
        host: &str,
        settings: &ClientSettings,
        tls: &TlsClient,
        starttls: bool,
    ) -> Result<Connection, ConnectionError> {
        let tcp = match timeout(settings.connect_timeout, TcpStream::connect(address)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(error)) => return Err(ConnectionError::Connect(error)),
            Err(_) => return Err(ConnectionError::Connect(io::ErrorKind::TimedOut.into())),
        };
        let _ = tcp.set_nodelay(true);
        let config = ClientConfig {
            ehlo_name: settings.ehlo_name.clone(),
            max_reply_lines: 100,
        };
        let mut connection = Connection {
            stream: ClientStream::Plain(tcp),
            session: ClientSession::new(config),
            buffer: vec![0; READ_BUFFER],
            host: host.to_owned(),
            address,
            tls: None,
            cleartext_retry: false,
            policy: String::new(),
            messages_sent: 0,
            reply_timeout: settings.reply_timeout,
        };
        let offers_tls = connection.until_ready().await?.starttls;
        if offers_tls && starttls {
            connection.start_tls(tls).await?;
        }
        Ok(connection)
    }

    /// The verify value for logs: `CLEAR` for a plaintext retry, `NONE` without TLS.
    pub fn verify(&self) -> Verify {
        match (&self.tls, self.cleartext_retry) {
            (Some(tls), _) => tls.verify,
            (None, true) => Verify::Clear,
            (None, false) => Verify::None,
        }
    }

    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.session.capabilities()
    }

    /// Sends one message; the per-recipient result, or why the connection broke.
    pub async fn send(
        &mut self,
        envelope: &OutgoingEnvelope,
        body: &mut (dyn Read + Send),
    ) -> Result<TransactionResult, ConnectionError> {
        self.session.send_message(envelope);
        loop {
            match self.session.poll() {
                ClientAction::NeedInput => self.read_more().await?,
                ClientAction::SendBody => {
                    self.flush().await?;
                    self.write_body(body, envelope.size).await?;
                    self.session.body_sent();
                }
                ClientAction::Transaction(result) => {
                    self.messages_sent += 1;
                    return Ok(result);
                }
                ClientAction::Failed(failure) => return Err(ConnectionError::Session(failure)),
                other => {
                    let reason = format!("unexpected client state {other:?} during a transaction");
                    return Err(protocol_error(self.session.phase(), reason));
                }
            }
        }
    }

    /// Says QUIT and closes, without waiting long for the reply.
    pub async fn quit(mut self) {
        self.session.quit();
        let _ = timeout(Duration::from_secs(5), async {
            loop {
                match self.session.poll() {
                    ClientAction::NeedInput => {
                        if self.read_more().await.is_err() {
                            return;
                        }
                    }
                    _ => return,
                }
            }
        })
        .await;
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
    }

    async fn until_ready(&mut self) -> Result<Capabilities, ConnectionError> {
        loop {
            match self.session.poll() {
                ClientAction::NeedInput => self.read_more().await?,
                ClientAction::Ready(capabilities) => return Ok(capabilities.clone()),
                ClientAction::Failed(failure) => return Err(ConnectionError::Session(failure)),
                other => {
                    let reason = format!("unexpected client state {other:?} before the session");
                    return Err(protocol_error(self.session.phase(), reason));
                }
            }
        }
    }

    async fn start_tls(&mut self, tls: &TlsClient) -> Result<(), ConnectionError> {
        self.session.start_tls();
        loop {
            match self.session.poll() {
                ClientAction::NeedInput => self.read_more().await.map_err(broken_tls)?,
                ClientAction::TlsReady => break,
                ClientAction::TlsRefused(reply) => {
                    return Err(ConnectionError::StartTls(StartTlsFailure {
                        verify: Verify::Protocol,
                        reason: reply.to_string(),
                    }));
                }
                ClientAction::Failed(failure) => {
                    return Err(broken_tls(ConnectionError::Session(failure)))
                }
                other => {
                    let reason = format!("unexpected client state {other:?} after STARTTLS");
                    return Err(broken_tls(protocol_error(self.session.phase(), reason)));
                }
            }
        }
        self.flush().await.map_err(broken_tls)?;
        let plain = std::mem::replace(&mut self.stream, ClientStream::Detached);
        let ClientStream::Plain(tcp) = plain else {
            return Err(protocol_error(
                ClientPhase::StartTls,
                "TLS already active".into(),
            ));
        };
        let (stream, outcome) = tls.handshake(tcp, &self.host).await.map_err(|error| {
            ConnectionError::StartTls(StartTlsFailure {
                verify: Verify::Software,
                reason: format!("handshake failed: {error}"),
            })
        })?;
        maillog::starttls_client(&self.host, &outcome);
        self.stream = ClientStream::Tls(Box::new(stream));
        self.tls = Some(outcome);
        self.session.tls_established();
        // With TLS 1.3 a server that demands a client certificate fails the session only
        // after our side thought the handshake succeeded: an error before MAIL is a failed
        // handshake too (SPEC §4.2).
        self.until_ready().await.map_err(broken_tls)?;
        Ok(())
    }

    /// Streams the body in chunks of at most 256 KiB (buffers sized to a small
    /// message), reading one chunk ahead so the terminator goes out with the last.
    async fn write_body(
        &mut self,
        body: &mut (dyn Read + Send),
        size: u64,
    ) -> Result<(), ConnectionError> {
        let chunk_len =
            usize::try_from(size.saturating_add(1)).map_or(BODY_CHUNK, |size| size.min(BODY_CHUNK));
        let mut stuffer = DotStuffer::new();
        let mut chunk = vec![0u8; chunk_len];
        let mut wire = Vec::with_capacity(chunk_len + chunk_len / 8 + 8);
        let limit = self.timeout(ClientPhase::DataBlock);
        // Spool reads hit the page cache; a short blocking read is cheaper than a hop
        // to the blocking pool for every 256 KiB.
        let mut count = body.read(&mut chunk).map_err(ConnectionError::Io)?;
        loop {
            wire.clear();
            stuffer.stuff(&chunk[..count], &mut wire);
            if count > 0 {
                count = body.read(&mut chunk).map_err(ConnectionError::Io)?;
            }
            let last = count == 0;
            if last {
                stuffer.finish(&mut wire);
            }
            match timeout(limit, self.stream.write_all(&wire)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(ConnectionError::Io(error)),
                Err(_) => return Err(ConnectionError::Timeout(ClientPhase::DataBlock)),
            }
            if last {
                return self.stream.flush().await.map_err(ConnectionError::Io);
            }
        }
    }

    async fn flush(&mut self) -> Result<(), ConnectionError> {
        if self.session.output().is_empty() {
            return Ok(());
        }
        let limit = self.timeout(self.session.phase());
        let write = async {
            self.stream.write_all(self.session.output()).await?;
            self.stream.flush().await
        };
        match timeout(limit, write).await {
            Ok(Ok(())) => {
                self.session.clear_output();
                Ok(())
            }
            Ok(Err(error)) => Err(ConnectionError::Io(error)),
            Err(_) => Err(ConnectionError::Timeout(self.session.phase())),
        }
    }

    /// How long to wait in `phase`: the configured override, else RFC 5321's value.
    fn timeout(&self, phase: ClientPhase) -> Duration {
        self.reply_timeout.unwrap_or_else(|| phase_timeout(phase))
    }

    /// Writes pending commands, then reads under the phase's timeout.
    async fn read_more(&mut self) -> Result<(), ConnectionError> {
        self.flush().await?;
        let phase = self.session.phase();
        match timeout(self.timeout(phase), self.stream.read(&mut self.buffer)).await {
            Ok(Ok(0)) => Err(ConnectionError::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(Ok(count)) => {
                self.session.receive(&self.buffer[..count]);
                Ok(())
            }
            Ok(Err(error)) => Err(ConnectionError::Io(error)),
            Err(_) => Err(ConnectionError::Timeout(phase)),
        }
    }
}

/// An error while STARTTLS was under way: the handshake, in effect, failed.
fn broken_tls(error: ConnectionError) -> ConnectionError {
    match error {
        ConnectionError::StartTls(failure) => ConnectionError::StartTls(failure),
        other => ConnectionError::StartTls(StartTlsFailure {
            verify: Verify::Software,
            reason: other.to_string(),
        }),
    }
}

fn protocol_error(phase: ClientPhase, reason: String) -> ConnectionError {
    ConnectionError::Session(SessionFailure {
        phase,
        reply: None,
        reason: FailureReason::ProtocolError(reason),
    })
}

/// RFC 5321 §4.5.3.2 client timeouts.
fn phase_timeout(phase: ClientPhase) -> Duration {
    let minutes = match phase {
        ClientPhase::DataInit => 2,
        ClientPhase::DataBlock => 3,
        ClientPhase::DataEnd => 10,
        _ => 5,
    };
    Duration::from_secs(60 * minutes)
}
