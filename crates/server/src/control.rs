//! The daemon's control socket: a Unix stream socket `<spool>/control.sock` through
//! which local commands (`posthorn queue flush`, `sendmail -q`, `sendmail` after it
//! queued a message) poke a running daemon.
//!
//! The protocol is one request line per connection and one reply line:
//!
//! ```text
//! FLUSH              -> OK | ERR <reason>     run the whole queue now
//! FLUSH <queue-id>   -> OK | ERR <reason>     run one message now
//! QUEUED <queue-id>  -> OK | ERR <reason>     a message was just put into the spool
//! ```
//!
//! `OK` means the daemon took the request, not that anything was delivered. This
//! module only carries requests: what the daemon does with them is its scheduler's
//! business. Access control is the socket file's mode (0660) and the spool directory's.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use posthorn_spool::QueueId;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};

/// The socket's file name inside the spool directory.
const SOCKET_NAME: &str = "control.sock";
/// Longest request or reply line accepted, newline included.
const MAX_LINE: usize = 256;
/// How long either side waits for the other's line.
const LINE_TIMEOUT: Duration = Duration::from_secs(10);
/// Who may talk to the daemon: its user and its group.
const SOCKET_MODE: u32 = 0o660;

/// One request to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlRequest {
    /// Attempt delivery now: every queued message, or only this one.
    Flush(Option<QueueId>),
    /// This message was just committed to the spool by a local command.
    Queued(QueueId),
}

/// A request line that is not one of the three forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad control request: {0}")]
pub struct BadRequest(String);

/// Why a request to the daemon did not get an `OK`.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No socket, or nothing listening on it.
    #[error("the posthorn daemon is not running (no listener on {})", path.display())]
    NotRunning { path: PathBuf },
    #[error("control socket {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// The daemon answered `ERR <reason>`.
    #[error("the daemon refused the request: {0}")]
    Refused(String),
    /// The daemon answered something that is neither `OK` nor `ERR`.
    #[error("unexpected reply from the daemon: {0:?}")]
    BadReply(String),
}

impl ControlRequest {
    /// The request line, without its newline.
    pub fn to_line(&self) -> String {
        match self {
            ControlRequest::Flush(None) => "FLUSH".to_owned(),
            ControlRequest::Flush(Some(id)) => format!("FLUSH {id}"),
            ControlRequest::Queued(id) => format!("QUEUED {id}"),
        }
    }
}

impl FromStr for ControlRequest {
    type Err = BadRequest;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| BadRequest(reason.to_owned());
        let mut words = line.split_ascii_whitespace();
        let verb = words.next().ok_or_else(|| bad("empty line"))?;
        let argument = words.next();
        if words.next().is_some() {
            return Err(bad("too many arguments"));
        }
        let id = |text: &str| {
            text.parse::<QueueId>()
                .map_err(|error| bad(&error.to_string()))
        };
        match (verb.to_ascii_uppercase().as_str(), argument) {
            ("FLUSH", None) => Ok(ControlRequest::Flush(None)),
            ("FLUSH", Some(text)) => Ok(ControlRequest::Flush(Some(id(text)?))),
            ("QUEUED", Some(text)) => Ok(ControlRequest::Queued(id(text)?)),
            ("QUEUED", None) => Err(bad("QUEUED needs a queue id")),
            _ => Err(bad("unknown command")),
        }
    }
}

/// Where the daemon using spool directory `spool` listens.
pub fn socket_path(spool: &Path) -> PathBuf {
    spool.join(SOCKET_NAME)
}

/// Daemon side: accepts connections until `stopping` turns true; each valid request is
/// sent on `requests`, then answered `OK`. The socket file is removed on the way out.
///
/// A socket file left by a daemon that died is removed first; one that a running
/// daemon still answers on is an error (`AddrInUse`), so two daemons never share a spool.
pub async fn serve(
    path: PathBuf,
    requests: mpsc::Sender<ControlRequest>,
    stopping: watch::Receiver<bool>,
) -> io::Result<()> {
    ControlSocket::bind(path)?.serve(requests, stopping).await
}

/// The daemon's bound control socket. Bound before the daemon reports itself ready, so a
/// `queue flush` right after start finds it; removed when serving ends.
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Binds `path`, replacing a stale socket file; `AddrInUse` when a running daemon
    /// still answers on it (two daemons never share a spool).
    pub fn bind(path: PathBuf) -> io::Result<ControlSocket> {
        let listener = bind(&path)?;
        Ok(ControlSocket { listener, path })
    }

    /// Accepts requests until `stopping` turns true; each valid one is sent on `requests`.
    pub async fn serve(
        self,
        requests: mpsc::Sender<ControlRequest>,
        mut stopping: watch::Receiver<bool>,
    ) -> io::Result<()> {
        while !*stopping.borrow() {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        tokio::spawn(answer(stream, requests.clone()));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "control socket accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                changed = stopping.changed() => if changed.is_err() { break },
            }
        }
        let _ = std::fs::remove_file(&self.path);
        Ok(())
    }
}

/// Binds the socket, replacing a stale file, and opens it to the daemon's group.
fn bind(path: &Path) -> io::Result<UnixListener> {
    if path.exists() {
        if StdUnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{} is in use by a running daemon", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))?;
    Ok(listener)
}

/// Reads one request line, hands it on, writes the reply.
async fn answer(stream: UnixStream, requests: mpsc::Sender<ControlRequest>) {
    let (reader, mut writer) = stream.into_split();
    let mut line = Vec::new();
    let mut limited = AsyncBufReader::new(reader).take(MAX_LINE as u64);
    let read = limited.read_until(b'\n', &mut line);
    let reply = match tokio::time::timeout(LINE_TIMEOUT, read).await {
        Ok(Ok(_)) => match parse_line(&line) {
            Ok(request) => match requests.send(request).await {
                Ok(()) => "OK".to_owned(),
                Err(_) => "ERR the daemon is stopping".to_owned(),
            },
            Err(error) => format!("ERR {error}"),
        },
        Ok(Err(error)) => format!("ERR {error}"),
        Err(_) => "ERR timed out waiting for the request".to_owned(),
    };
    let write = async {
        writer.write_all(format!("{reply}\n").as_bytes()).await?;
        writer.shutdown().await
    };
    let _ = tokio::time::timeout(LINE_TIMEOUT, write).await;
}

/// One complete line (LF or CRLF), as text.
fn parse_line(line: &[u8]) -> Result<ControlRequest, BadRequest> {
    let Some(line) = line.strip_suffix(b"\n") else {
        return Err(BadRequest(format!("no newline within {MAX_LINE} bytes")));
    };
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    std::str::from_utf8(line)
        .map_err(|_| BadRequest("not UTF-8".to_owned()))?
        .parse()
}

/// Client side (blocking): sends one request to the daemon using spool `spool`.
pub fn request(spool: &Path, request: &ControlRequest) -> Result<(), ControlError> {
    let path = socket_path(spool);
    let io_error = |source| ControlError::Io {
        path: path.clone(),
        source,
    };
    let mut stream = StdUnixStream::connect(&path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
            ControlError::NotRunning { path: path.clone() }
        }
        _ => io_error(source),
    })?;
    stream
        .set_read_timeout(Some(LINE_TIMEOUT))
        .map_err(io_error)?;
    stream
        .set_write_timeout(Some(LINE_TIMEOUT))
        .map_err(io_error)?;
    stream
        .write_all(format!("{}\n", request.to_line()).as_bytes())
        .map_err(io_error)?;
    let mut reply = Vec::new();
    BufReader::new(stream)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut reply)
        .map_err(io_error)?;
    parse_reply(&reply)
}

fn parse_reply(reply: &[u8]) -> Result<(), ControlError> {
    let text = String::from_utf8_lossy(reply);
    let text = text.trim_end_matches(['\r', '\n']);
    if text == "OK" {
        return Ok(());
    }
    match text.strip_prefix("ERR ") {
        Some(reason) => Err(ControlError::Refused(reason.to_owned())),
        None => Err(ControlError::BadReply(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let path = std::env::temp_dir()
                .join(format!("posthorn-control-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("temp dir");
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn id(text: &str) -> QueueId {
        text.parse().expect("queue id")
    }

    #[test]
    fn request_lines_parse_and_print() {
        let cases = [
            ("FLUSH", Ok(ControlRequest::Flush(None))),
            ("flush", Ok(ControlRequest::Flush(None))),
            (
                "FLUSH qAKNj3AB012345",
                Ok(ControlRequest::Flush(Some(id("qAKNj3AB012345")))),
            ),
            (
                "QUEUED qAKNj3AB012345",
                Ok(ControlRequest::Queued(id("qAKNj3AB012345"))),
            ),
            ("QUEUED", Err(())),
            ("FLUSH short", Err(())),
            ("FLUSH qAKNj3AB012345 extra", Err(())),
            ("DELETE qAKNj3AB012345", Err(())),
            ("", Err(())),
        ];
        for (line, expected) in cases {
            let parsed = line.parse::<ControlRequest>().map_err(|_| ());
            assert_eq!(parsed, expected, "{line:?}");
            if let Ok(request) = parsed {
                assert_eq!(request.to_line().parse::<ControlRequest>(), Ok(request));
            }
        }
    }

    #[test]
    fn replies_parse() {
        assert!(parse_reply(b"OK\n").is_ok());
        assert!(parse_reply(b"OK\r\n").is_ok());
        assert!(matches!(parse_reply(b"ERR no such message\n"),
            Err(ControlError::Refused(reason)) if reason == "no such message"));
        assert!(matches!(parse_reply(b""), Err(ControlError::BadReply(_))));
        assert!(matches!(
            parse_reply(b"OKAY\n"),
            Err(ControlError::BadReply(_))
        ));
    }

    #[test]
    fn no_socket_means_not_running() {
        let dir = TempDir::new("absent");
        let result = request(&dir.0, &ControlRequest::Flush(None));
        assert!(
            matches!(result, Err(ControlError::NotRunning { .. })),
            "{result:?}"
        );
    }

    async fn send(spool: &Path, sent: ControlRequest) -> Result<(), ControlError> {
        let spool = spool.to_path_buf();
        tokio::task::spawn_blocking(move || request(&spool, &sent))
            .await
            .expect("client thread")
    }

    #[tokio::test]
    async fn requests_reach_the_daemon_and_stop_removes_the_socket() {
        let dir = TempDir::new("round-trip");
        let path = socket_path(&dir.0);
        let (sender, mut received) = mpsc::channel(8);
        let (stop, stopping) = watch::channel(false);
        let server = tokio::spawn(serve(path.clone(), sender, stopping));
        while !path.exists() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mode = std::fs::metadata(&path)
            .expect("socket")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, SOCKET_MODE);
        let sent = [
            ControlRequest::Flush(None),
            ControlRequest::Flush(Some(id("qAKNj3AB012345"))),
            ControlRequest::Queued(id("qAKNj3AB012346")),
        ];
        for request in sent {
            send(&dir.0, request.clone()).await.expect("OK");
            assert_eq!(received.recv().await, Some(request));
        }
        stop.send(true).expect("server listening");
        server.await.expect("task").expect("serve");
        assert!(!path.exists());
        let after = send(&dir.0, ControlRequest::Flush(None)).await;
        assert!(
            matches!(after, Err(ControlError::NotRunning { .. })),
            "{after:?}"
        );
    }

    #[tokio::test]
    async fn bad_request_gets_err_and_is_not_passed_on() {
        let dir = TempDir::new("bad");
        let path = socket_path(&dir.0);
        let (sender, mut received) = mpsc::channel(8);
        let (stop, stopping) = watch::channel(false);
        let server = tokio::spawn(serve(path.clone(), sender, stopping));
        while !path.exists() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let reply = tokio::task::spawn_blocking(move || {
            let mut stream = StdUnixStream::connect(&path).expect("connect");
            stream.write_all(b"HALT now please\n").expect("write");
            let mut reply = String::new();
            stream.read_to_string(&mut reply).expect("read");
            reply
        })
        .await
        .expect("client");
        assert!(reply.starts_with("ERR "), "{reply:?}");
        stop.send(true).expect("server listening");
        server.await.expect("task").expect("serve");
        assert_eq!(received.recv().await, None);
    }

    #[tokio::test]
    async fn stale_socket_is_replaced_but_a_live_one_is_not() {
        let dir = TempDir::new("stale");
        let path = socket_path(&dir.0);
        drop(std::os::unix::net::UnixListener::bind(&path).expect("stale socket"));
        let stale = send(&dir.0, ControlRequest::Flush(None)).await;
        assert!(
            matches!(stale, Err(ControlError::NotRunning { .. })),
            "{stale:?}"
        );

        let (sender, mut received) = mpsc::channel(8);
        let (stop, stopping) = watch::channel(false);
        let server = tokio::spawn(serve(path.clone(), sender.clone(), stopping.clone()));
        // The stale file exists from the start: retry until the new listener answers.
        let mut answered = send(&dir.0, ControlRequest::Flush(None)).await;
        for _ in 0..200 {
            if answered.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            answered = send(&dir.0, ControlRequest::Flush(None)).await;
        }
        answered.expect("OK");
        assert_eq!(received.recv().await, Some(ControlRequest::Flush(None)));

        let second = serve(path.clone(), sender, stopping).await;
        assert_eq!(
            second.map_err(|error| error.kind()),
            Err(io::ErrorKind::AddrInUse)
        );
        stop.send(true).expect("server listening");
        server.await.expect("task").expect("serve");
    }
}
