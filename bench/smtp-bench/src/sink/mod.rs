//! `posthorn-bench sink`: an SMTP server that accepts every message and throws it away,
//! with optional STARTTLS (Postfix's `smtp-sink` has none), counting messages into a
//! file a script can poll.

mod scanner;
mod session;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio_rustls::TlsAcceptor;

use crate::stream::Stream;
use session::{Next, SinkSession};

/// Bytes read from a socket at a time; large so a big message takes few reads.
const READ_BUFFER: usize = 64 * 1024;

/// How often the count file is rewritten.
const COUNT_INTERVAL: Duration = Duration::from_millis(50);

/// The validated `sink` options.
#[derive(Debug)]
pub struct SinkOptions {
    pub listen: SocketAddr,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub count_file: Option<PathBuf>,
    pub hostname: String,
}

/// What every connection shares.
struct Shared {
    hostname: String,
    acceptor: Option<TlsAcceptor>,
    messages: Arc<AtomicU64>,
}

/// Serves until SIGTERM or SIGINT, then writes the count file a last time.
pub async fn run(options: SinkOptions) -> Result<()> {
    let acceptor = match &options.tls {
        Some((certificate, key)) => Some(crate::tls::server_acceptor(certificate, key)?),
        None => None,
    };
    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("binding {}", options.listen))?;
    let shared = Arc::new(Shared {
        hostname: options.hostname,
        acceptor,
        messages: Arc::new(AtomicU64::new(0)),
    });
    if let Some(path) = &options.count_file {
        write_count(path, 0)?;
        tokio::spawn(keep_count_file(path.clone(), Arc::clone(&shared.messages)));
    }
    crate::print_flushed(&format!("listening on {}", listener.local_addr()?));
    tokio::select! {
        result = accept_loop(listener, Arc::clone(&shared)) => result?,
        result = shutdown_signal() => result?,
    }
    if let Some(path) = &options.count_file {
        write_count(path, shared.messages.load(Ordering::Relaxed))?;
    }
    Ok(())
}

async fn shutdown_signal() -> Result<()> {
    let mut terminate = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) -> Result<()> {
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors or a connection reset before accept: keep serving.
            Err(error) => {
                eprintln!("posthorn-bench sink: accept: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            // A client that goes away mid-dialogue is not the sink's problem.
            let _ = serve(tcp, &shared).await;
        });
    }
}

/// Runs one connection: greeting, then read → answer → write until QUIT or EOF.
async fn serve(tcp: TcpStream, shared: &Shared) -> Result<()> {
    tcp.set_nodelay(true)?;
    let mut stream = Stream::Plain(tcp);
    let available = shared.acceptor.is_some();
    let mut session = SinkSession::new(&shared.hostname, available, Arc::clone(&shared.messages));
    let mut input = vec![0u8; READ_BUFFER];
    let (mut start, mut end) = (0, 0);
    let mut out = Vec::with_capacity(1024);
    session.greet(&mut out);
    loop {
        let (consumed, next) = session.receive(&input[start..end], &mut out);
        start += consumed;
        if !out.is_empty() {
            stream.write_all(&out).await?;
            stream.flush().await?;
            out.clear();
        }
        match next {
            Next::Read => {}
            Next::Close => return Ok(stream.shutdown().await?),
            Next::StartTls => {
                stream = start_tls(stream, shared).await?;
                session.tls_established();
                (start, end) = (0, 0);
                continue;
            }
        }
        if start == end {
            (start, end) = (0, 0);
        } else if end == input.len() {
            input.copy_within(start..end, 0);
            (start, end) = (0, end - start);
        }
        let read = stream.read(&mut input[end..]).await?;
        if read == 0 {
            return Ok(());
        }
        end += read;
    }
}

async fn start_tls(stream: Stream, shared: &Shared) -> Result<Stream> {
    let (Stream::Plain(tcp), Some(acceptor)) = (stream, &shared.acceptor) else {
        anyhow::bail!("STARTTLS without a plain stream and a certificate");
    };
    let tls = acceptor.accept(tcp).await.context("TLS handshake")?;
    Ok(Stream::Tls(Box::new(tls.into())))
}

/// Rewrites the count file whenever the count changed, every 50 ms.
async fn keep_count_file(path: PathBuf, messages: Arc<AtomicU64>) {
    let mut written = 0;
    let mut interval = tokio::time::interval(COUNT_INTERVAL);
    loop {
        interval.tick().await;
        let count = messages.load(Ordering::Relaxed);
        // A failed write is reported and retried next tick; the count is still right.
        if count != written {
            match write_count(&path, count) {
                Ok(()) => written = count,
                Err(error) => eprintln!("posthorn-bench sink: {error:#}"),
            }
        }
    }
}

/// Writes `<count>\n` to a temporary file and renames it over `path`, so a reader never
/// sees a half-written number. Small and rare enough to do on the runtime thread.
fn write_count(path: &Path, count: u64) -> Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    std::fs::write(&temporary, format!("{count}\n"))
        .with_context(|| format!("writing {}", Path::new(&temporary).display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("renaming to {}", path.display()))
}
