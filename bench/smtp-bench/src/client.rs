//! Opening a client SMTP connection: connect, greeting, EHLO, and optionally STARTTLS
//! with a second EHLO. Shared by `source` and `idle`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::reply::ReplyReader;
use crate::stream::Stream;

/// An open SMTP session after EHLO.
#[derive(Debug)]
pub struct Connection {
    pub stream: Stream,
    pub replies: ReplyReader,
    /// The last EHLO reply advertised PIPELINING.
    pub pipelining: bool,
}

/// How to open a connection.
#[derive(Clone)]
pub struct Opener {
    pub server: SocketAddr,
    /// `EHLO <helo>\r\n`, formatted once.
    pub ehlo: Vec<u8>,
    /// `HELO <helo>\r\n`, for a server that rejects EHLO.
    pub helo: Vec<u8>,
    /// Present when the session must STARTTLS after the first EHLO.
    pub tls: Option<TlsConnector>,
    /// Limit for each step (connect, each reply, the handshake).
    pub timeout: Duration,
    /// NOOPs after the last EHLO, each awaited: extra round trips, to measure what one
    /// costs (a STARTTLS upgrade adds three).
    pub noops: u32,
}

impl Opener {
    pub fn new(server: SocketAddr, helo: &str, tls: Option<TlsConnector>) -> Self {
        Opener {
            server,
            ehlo: format!("EHLO {helo}\r\n").into_bytes(),
            helo: format!("HELO {helo}\r\n").into_bytes(),
            tls,
            timeout: Duration::from_secs(60),
            noops: 0,
        }
    }

    /// Connects and greets; with a connector, upgrades to TLS and greets again.
    pub async fn open(&self) -> Result<Connection> {
        let tcp = within(self.timeout, TcpStream::connect(self.server)).await?;
        tcp.set_nodelay(true).context("TCP_NODELAY")?;
        let mut connection = Connection {
            stream: Stream::Plain(tcp),
            replies: ReplyReader::default(),
            pipelining: false,
        };
        let greeting = within(self.timeout, connection.reply()).await?;
        if greeting != 220 {
            bail!("greeting {greeting}");
        }
        self.ehlo(&mut connection).await?;
        let Some(connector) = &self.tls else {
            self.noops(&mut connection).await?;
            return Ok(connection);
        };
        connection.command(b"STARTTLS\r\n").await?;
        let code = within(self.timeout, connection.reply()).await?;
        if code != 220 {
            bail!("STARTTLS answered {code}");
        }
        if !connection.replies.is_empty() {
            bail!("server sent bytes after its STARTTLS reply");
        }
        let Stream::Plain(tcp) = connection.stream else {
            bail!("STARTTLS on a TLS stream");
        };
        let name = crate::tls::server_name(self.server);
        let tls = within(self.timeout, connector.connect(name, tcp)).await?;
        connection.stream = Stream::Tls(Box::new(tls.into()));
        self.ehlo(&mut connection).await?;
        self.noops(&mut connection).await?;
        Ok(connection)
    }

    async fn noops(&self, connection: &mut Connection) -> Result<()> {
        for _ in 0..self.noops {
            connection.command(b"NOOP\r\n").await?;
            let code = within(self.timeout, connection.reply()).await?;
            if code != 250 {
                bail!("NOOP answered {code}");
            }
        }
        Ok(())
    }

    /// EHLO, or HELO when the server rejects EHLO (then without pipelining).
    async fn ehlo(&self, connection: &mut Connection) -> Result<()> {
        connection.command(&self.ehlo).await?;
        let mut pipelining = false;
        let code = within(
            self.timeout,
            connection.replies.read(&mut connection.stream, |text| {
                pipelining |= text.eq_ignore_ascii_case(b"PIPELINING");
            }),
        )
        .await?;
        connection.pipelining = pipelining;
        if code == 250 {
            return Ok(());
        }
        if !(500..600).contains(&code) {
            bail!("EHLO answered {code}");
        }
        connection.command(&self.helo).await?;
        let code = within(self.timeout, connection.reply()).await?;
        if code != 250 {
            bail!("EHLO and HELO answered {code}");
        }
        Ok(())
    }
}

impl Connection {
    /// Writes `bytes` in one write and flushes.
    pub async fn command(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        write_flushed(&mut self.stream, bytes).await
    }

    /// Reads one reply's code.
    pub async fn reply(&mut self) -> std::io::Result<u16> {
        self.replies.read(&mut self.stream, |_| {}).await
    }

    /// Sends QUIT and waits briefly for the 221, ignoring errors: the work is done.
    pub async fn quit(mut self) {
        let polite = async {
            self.command(b"QUIT\r\n").await?;
            self.reply().await?;
            self.stream.shutdown().await
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), polite).await;
    }
}

async fn write_flushed<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// Runs `step` with a time limit, turning a timeout into an error.
pub async fn within<T, E, F>(limit: Duration, step: F) -> Result<T>
where
    F: std::future::Future<Output = Result<T, E>>,
    E: Into<anyhow::Error>,
{
    match tokio::time::timeout(limit, step).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => bail!("timed out after {} s", limit.as_secs()),
    }
}
