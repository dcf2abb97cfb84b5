//! The probe's side of one connection: connect, greeting, EHLO, STARTTLS and the
//! handshake, EHLO again over TLS, QUIT. Every step has its own timeout, so a silent or
//! stalled server never hangs the probe; no MAIL is ever sent.

use std::net::SocketAddr;
use std::time::Duration;

use posthorn_proto::client::{
    Capabilities, ClientAction, ClientConfig, ClientPhase, ClientSession,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::client_cert::RecordingResolver;
use super::facts::{SessionFacts, StartTlsStep, TlsFacts};
use crate::stream::ClientStream;
use crate::tls::TlsClient;

const READ_BUFFER: usize = 16 * 1024;

/// The limit for each step (SPEC §1: connect, each reply, the handshake).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeTimeouts {
    pub connect: Duration,
    pub reply: Duration,
    pub handshake: Duration,
}

impl ProbeTimeouts {
    /// The same limit for every step.
    pub fn uniform(limit: Duration) -> ProbeTimeouts {
        ProbeTimeouts {
            connect: limit,
            reply: limit,
            handshake: limit,
        }
    }
}

/// What a connection needs: our EHLO name, the limits, and the TLS client (with the
/// resolver that sees certificate requests).
pub(crate) struct Dialer<'a> {
    pub ehlo_name: &'a str,
    pub timeouts: ProbeTimeouts,
    pub tls: &'a TlsClient,
    pub resolver: &'a RecordingResolver,
}

/// An open connection while the probe drives it.
struct Wire {
    stream: ClientStream,
    session: ClientSession,
    buffer: Vec<u8>,
    /// Bytes received since the last command, for the text of the STARTTLS reply (the
    /// session reports only that it was 220).
    received: Vec<u8>,
    reply_timeout: Duration,
}

impl Dialer<'_> {
    /// One connection to `address`: with `starttls`, STARTTLS when offered.
    pub(crate) async fn probe(
        &self,
        address: SocketAddr,
        host: &str,
        starttls: bool,
    ) -> SessionFacts {
        let mut facts = SessionFacts::default();
        let mut wire = match self.connect(address).await {
            Ok(wire) => wire,
            Err(error) => {
                facts.connect_error = Some(error);
                return facts;
            }
        };
        let capabilities = match wire.until_ready().await {
            Ok(capabilities) => capabilities,
            Err(stop) => {
                facts.banner = stop.banner;
                facts.failure = Some(stop.reason);
                return facts;
            }
        };
        facts.banner = Some(capabilities.greeting.clone());
        facts.ehlo = Some(capabilities.ehlo_reply.clone());
        if !starttls {
            wire.quit().await;
            return facts;
        }
        if !capabilities.starttls {
            facts.starttls = StartTlsStep::NotOffered;
            wire.quit().await;
            return facts;
        }
        facts.starttls = self.start_tls(wire, host).await;
        facts
    }

    async fn connect(&self, address: SocketAddr) -> Result<Wire, String> {
        let limit = self.timeouts.connect;
        let tcp = match timeout(limit, TcpStream::connect(address)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(error)) => return Err(error.to_string()),
            Err(_) => return Err(format!("no answer within {}s", limit.as_secs())),
        };
        let _ = tcp.set_nodelay(true);
        let config = ClientConfig {
            ehlo_name: self.ehlo_name.to_owned(),
            max_reply_lines: 100,
        };
        Ok(Wire {
            stream: ClientStream::Plain(tcp),
            session: ClientSession::new(config),
            buffer: vec![0; READ_BUFFER],
            received: Vec::new(),
            reply_timeout: self.timeouts.reply,
        })
    }

    /// STARTTLS, the handshake, and EHLO over TLS; QUIT when the session survived.
    async fn start_tls(&self, mut wire: Wire, host: &str) -> StartTlsStep {
        let reply = match wire.starttls_reply().await {
            Ok(reply) => reply,
            Err(step) => return step,
        };
        let ClientStream::Plain(tcp) = std::mem::replace(&mut wire.stream, ClientStream::Detached)
        else {
            let reason = "TLS already active".to_owned();
            return StartTlsStep::HandshakeFailed { reply, reason };
        };
        self.resolver.take_requested();
        let limit = self.timeouts.handshake;
        let (stream, outcome) = match timeout(limit, self.tls.handshake(tcp, host)).await {
            Ok(Ok(done)) => done,
            Ok(Err(error)) => {
                let reason = format!("handshake failed: {error}");
                return StartTlsStep::HandshakeFailed { reply, reason };
            }
            Err(_) => {
                let reason = format!("handshake failed: no progress within {}s", limit.as_secs());
                return StartTlsStep::HandshakeFailed { reply, reason };
            }
        };
        let tls = tls_facts(&stream, outcome, self.resolver.take_requested());
        wire.stream = ClientStream::Tls(Box::new(stream));
        wire.session.tls_established();
        let after = match wire.until_ready().await {
            Ok(capabilities) => {
                wire.quit().await;
                Ok(capabilities.ehlo_reply)
            }
            Err(stop) => Err(stop.reason),
        };
        StartTlsStep::Established {
            reply,
            tls: Box::new(tls),
            after,
        }
    }
}

/// Why a session stopped before it was ready, with the greeting when one came.
struct Stop {
    banner: Option<posthorn_proto::Reply>,
    reason: String,
}

impl Wire {
    async fn until_ready(&mut self) -> Result<Capabilities, Stop> {
        loop {
            match self.session.poll() {
                ClientAction::NeedInput => self.read_more().await.map_err(|reason| Stop {
                    banner: None,
                    reason,
                })?,
                ClientAction::Ready(capabilities) => return Ok(capabilities.clone()),
                ClientAction::Failed(failure) => {
                    let banner = (failure.phase == ClientPhase::Greeting)
                        .then(|| failure.reply.clone())
                        .flatten();
                    let reason = match &failure.reply {
                        Some(reply) => format!("{} ({reply})", failure.reason),
                        None => failure.reason.to_string(),
                    };
                    return Err(Stop { banner, reason });
                }
                other => {
                    let reason = format!("unexpected client state {other:?}");
                    return Err(Stop {
                        banner: None,
                        reason,
                    });
                }
            }
        }
    }

    /// Sends STARTTLS: the 220 line as received, or the step that ended it.
    async fn starttls_reply(&mut self) -> Result<String, StartTlsStep> {
        self.received.clear();
        self.session.start_tls();
        loop {
            match self.session.poll() {
                ClientAction::NeedInput => {
                    if let Err(reason) = self.read_more().await {
                        let reply = String::new();
                        return Err(StartTlsStep::HandshakeFailed { reply, reason });
                    }
                }
                ClientAction::TlsReady => break,
                ClientAction::TlsRefused(reply) => {
                    self.quit().await;
                    return Err(StartTlsStep::Refused(reply));
                }
                other => {
                    let reason = format!("unexpected answer to STARTTLS: {other:?}");
                    let reply = String::new();
                    return Err(StartTlsStep::HandshakeFailed { reply, reason });
                }
            }
        }
        let reply = first_line(&self.received);
        if let Err(reason) = self.flush().await {
            return Err(StartTlsStep::HandshakeFailed { reply, reason });
        }
        Ok(reply)
    }

    /// QUIT, its reply (not waited for long), and close.
    async fn quit(&mut self) {
        self.session.quit();
        let _ = timeout(self.reply_timeout, async {
            while matches!(self.session.poll(), ClientAction::NeedInput) {
                if self.read_more().await.is_err() {
                    return;
                }
            }
        })
        .await;
        let _ = timeout(self.reply_timeout, self.stream.shutdown()).await;
    }

    async fn flush(&mut self) -> Result<(), String> {
        if self.session.output().is_empty() {
            return Ok(());
        }
        let write = async {
            self.stream.write_all(self.session.output()).await?;
            self.stream.flush().await
        };
        match timeout(self.reply_timeout, write).await {
            Ok(Ok(())) => {
                self.session.clear_output();
                Ok(())
            }
            Ok(Err(error)) => Err(format!("write: {error}")),
            Err(_) => Err(format!(
                "write stalled for {}s",
                self.reply_timeout.as_secs()
            )),
        }
    }

    /// Writes pending commands, then reads one piece under the reply timeout.
    async fn read_more(&mut self) -> Result<(), String> {
        self.flush().await?;
        let phase = self.session.phase();
        let limit = self.reply_timeout;
        match timeout(limit, self.stream.read(&mut self.buffer)).await {
            Ok(Ok(0)) => Err(format!(
                "{}: the server closed the connection",
                phase_name(phase)
            )),
            Ok(Ok(count)) => {
                self.received.extend_from_slice(&self.buffer[..count]);
                self.session.receive(&self.buffer[..count]);
                Ok(())
            }
            Ok(Err(error)) => Err(format!("{}: {error}", phase_name(phase))),
            Err(_) => Err(format!(
                "{}: no reply within {}s",
                phase_name(phase),
                limit.as_secs()
            )),
        }
    }
}

/// What the finished handshake shows: delivery's outcome, the whole chain described, and
/// whether the server asked for a client certificate.
fn tls_facts(
    stream: &tokio_rustls::client::TlsStream<TcpStream>,
    outcome: crate::tls::TlsOutcome,
    client_certificate_requested: bool,
) -> TlsFacts {
    let chain = stream
        .get_ref()
        .1
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|der| posthorn_tls::describe(der).map_err(|error| error.to_string()))
        .collect();
    TlsFacts {
        version: outcome.version,
        cipher: outcome.cipher,
        bits: outcome.bits,
        verify: outcome.verify,
        verify_error: outcome.verify_error,
        chain,
        peer_names: outcome.peer_names,
        client_certificate_requested,
    }
}

/// The first line of what came, without its CRLF (the text of a one-line reply).
fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}

/// What the session was waiting for, in words.
fn phase_name(phase: ClientPhase) -> &'static str {
    match phase {
        ClientPhase::Greeting => "greeting",
        ClientPhase::Ehlo => "EHLO reply",
        ClientPhase::StartTls => "STARTTLS reply",
        ClientPhase::Quit => "QUIT reply",
        _ => "reply",
    }
}
