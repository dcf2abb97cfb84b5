//! Local submission through the server's machinery: `sendmail -bs` (an SMTP session on
//! stdin/stdout, run by the same sans-IO session and spool hand-off as a network
//! client), and the mail-log line of a message `sendmail` queued by itself.
//!
//! The local client is trusted as sendmail trusts it: it may relay, STARTTLS and AUTH
//! are not offered, and the access map still answers `From:` and `To:` lookups. It has
//! no IP address; the spool path needs one, so it is recorded as 127.0.0.1 with the
//! name `localhost`. It opens no listener; after each message it tells a running
//! daemon through the control socket, and without one the message waits in the spool.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use posthorn_config::Config;
use posthorn_policy::{AccessMap, RelayPolicy};
use posthorn_proto::session::{Action, Phase, ServerSession, SessionConfig};
use posthorn_spool::{QueueId, Spool};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

use crate::client_policy::ClientPolicy;
use crate::control::{self, ControlError, ControlRequest};
use crate::maillog;
use crate::storage::{self, Incoming, SessionFacts};
use crate::ServerError;

const READ_BUFFER: usize = 16 * 1024;
const LOCAL_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The accepted line of a message queued by the `sendmail` command itself.
pub struct LocalSubmission<'a> {
    pub queue_id: &'a str,
    /// The envelope sender, without angle brackets (empty for `<>`).
    pub sender: &'a str,
    pub size: u64,
    pub recipients: usize,
    pub message_id: Option<&'a str>,
    /// The invoking user: logged as `relay=USER@localhost`, as sendmail does.
    pub user: &'a str,
}

/// Logs `ID: from=<...>, size=N, nrcpts=N, msgid=<...>, proto=local, relay=USER@localhost`.
pub fn log_local_submission(line: &LocalSubmission<'_>) {
    let relay = relay_label(line.user);
    maillog::accepted(&maillog::Accepted {
        queue_id: line.queue_id,
        sender: line.sender,
        size: line.size,
        recipients: line.recipients,
        message_id: line.message_id,
        protocol: "local",
        relay: &relay,
    });
}

fn relay_label(user: &str) -> String {
    format!("{user}@localhost")
}

/// Runs one SMTP session for local user `user` over `input`/`output` (stdin and stdout
/// for `sendmail -bs`) until the client quits or its input ends. Messages go into the
/// spool of `config` and are durable before their `250`. Losing `input` or `output`
/// ends the session like a dropped connection (nothing unacknowledged is kept); only
/// a spool or access map that cannot be opened is an error.
pub async fn serve_local<R, W>(
    config: Config,
    user: &str,
    input: R,
    output: W,
) -> Result<(), ServerError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let spool = Spool::open(&config.spool).map_err(|source| ServerError::Spool {
        path: config.spool.clone(),
        source,
    })?;
    let access = match &config.maps.access {
        Some(path) => AccessMap::load(path)?,
        None => AccessMap::default(),
    };
    let relay = RelayPolicy::new(
        config.relay.networks.clone(),
        config.relay.domains.clone(),
        Arc::new(access),
    );
    let mut driver = LocalDriver {
        relay_label: relay_label(user),
        config: &config,
        spool: &spool,
        relay: &relay,
        incoming: None,
    };
    let mut session = ServerSession::new(session_config(&config));
    if let Err(error) = driver.run(&mut session, input, output).await {
        tracing::debug!(%error, "local SMTP session ended");
    }
    Ok(())
}

/// What a local session offers: the listener limits, no STARTTLS, no AUTH.
fn session_config(config: &Config) -> SessionConfig {
    let mut session = SessionConfig::new(config.hostname.clone());
    session.max_message_size = config.limits.message_size;
    session.max_recipients = config.limits.recipients;
    session.max_errors = config.limits.errors;
    session.extensions.starttls = false;
    session
}

struct LocalDriver<'a> {
    relay_label: String,
    config: &'a Config,
    spool: &'a Spool,
    relay: &'a RelayPolicy,
    incoming: Option<Incoming>,
}

impl LocalDriver<'_> {
    /// The loop of `connection.rs` without TLS, admission or shutdown.
    async fn run<R, W>(
        &mut self,
        session: &mut ServerSession,
        mut input: R,
        mut output: W,
    ) -> std::io::Result<()>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut buffer = vec![0u8; READ_BUFFER];
        loop {
            let mut policy = ClientPolicy {
                relay: self.relay,
                ip: LOCAL_IP,
                hostname: Some("localhost"),
                authenticated: false,
                may_relay: true,
                relay_label: &self.relay_label,
            };
            match session.poll(&mut policy) {
                Action::NeedInput => {
                    flush(&mut output, session).await?;
                    if !self.read(&mut input, session, &mut buffer).await? {
                        return Ok(());
                    }
                }
                // Not offered, so never asked for; ending is the safe answer.
                Action::StartTls | Action::Close => {
                    flush(&mut output, session).await?;
                    return output.shutdown().await;
                }
                Action::StartMessage(transaction) => {
                    let transaction = transaction.clone();
                    let facts = self.facts(session);
                    let opened = Incoming::open(self.spool, &transaction, facts);
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
                        Some(incoming) => incoming.commit(&self.relay_label).await,
                        None => Err(storage::local_error()),
                    };
                    if let Ok(id) = &result {
                        self.tell_daemon(id.clone()).await;
                    }
                    session.message_stored(result.map(|id| id.to_string()));
                }
                Action::AbortMessage => self.incoming = None,
            }
        }
    }

    /// Reads more input under the phase's timeout; false when the input ended.
    async fn read<R: AsyncRead + Unpin>(
        &self,
        input: &mut R,
        session: &mut ServerSession,
        buffer: &mut [u8],
    ) -> std::io::Result<bool> {
        let timeouts = &self.config.timeouts;
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

    /// Lets a running daemon deliver the message now; without one, its next start
    /// finds the message in the spool.
    async fn tell_daemon(&self, id: QueueId) {
        let spool = self.spool.path().to_path_buf();
        let request = ControlRequest::Queued(id);
        let told = tokio::task::spawn_blocking(move || control::request(&spool, &request)).await;
        match told {
            Ok(Ok(())) | Ok(Err(ControlError::NotRunning { .. })) => {}
            Ok(Err(error)) => tracing::warn!(%error, "cannot tell the daemon about a new message"),
            Err(error) => tracing::warn!(%error, "cannot tell the daemon about a new message"),
        }
    }

    fn facts(&self, session: &ServerSession) -> SessionFacts {
        SessionFacts {
            hostname: self.config.hostname.clone(),
            helo: session.helo_name().unwrap_or_default().to_owned(),
            client_ip: LOCAL_IP,
            client_name: Some("localhost".to_owned()),
            protocol: session.protocol(),
            auth_id: None,
            tls: None,
        }
    }
}

/// Writes out every pending reply.
async fn flush<W: AsyncWrite + Unpin>(
    output: &mut W,
    session: &mut ServerSession,
) -> std::io::Result<()> {
    if session.output().is_empty() {
        return Ok(());
    }
    output.write_all(session.output()).await?;
    output.flush().await?;
    session.clear_output();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fresh spool directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn config(name: &str) -> (Config, TempDir) {
        let dir =
            std::env::temp_dir().join(format!("posthorn-local-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let text = format!(
            "hostname = \"local.test\"\nspool = {:?}\n",
            dir.display().to_string()
        );
        let config = Config::from_toml(&text, None).expect("config");
        (config, TempDir(dir))
    }

    /// Runs a session over in-memory pipes with `script` as the client's whole input.
    async fn transcript(config: Config, script: &[u8]) -> String {
        let (mut client, server_side) = tokio::io::duplex(64 * 1024);
        let (input, output) = tokio::io::split(server_side);
        let server = tokio::spawn(async move { serve_local(config, "alice", input, output).await });
        client.write_all(script).await.expect("write");
        client.shutdown().await.expect("end of input");
        let mut replies = Vec::new();
        client.read_to_end(&mut replies).await.expect("read");
        server.await.expect("task").expect("serve_local");
        String::from_utf8(replies).expect("ASCII replies")
    }

    #[tokio::test]
    async fn a_local_session_queues_a_relayed_message() {
        let (config, dir) = config("queue");
        let script = b"EHLO me\r\nMAIL FROM:<alice@local.test>\r\n\
            RCPT TO:<bob@elsewhere.example>\r\nDATA\r\n\
            Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n";
        let replies = transcript(config, script).await;
        assert!(replies.starts_with("220 local.test"), "{replies}");
        assert!(!replies.contains("STARTTLS"), "{replies}");
        assert!(replies.contains("\r\n354 "), "{replies}");
        assert!(replies.contains("\r\n221 "), "{replies}");
        let spool = Spool::open(&dir.0).expect("spool");
        let messages = spool.list().expect("list");
        assert_eq!(messages.len(), 1, "{replies}");
        let message = &messages[0];
        assert!(
            replies.contains(&format!("250 2.0.0 {} ", message.id)),
            "{replies}"
        );
        assert_eq!(message.envelope.sender.to_string(), "alice@local.test");
        assert_eq!(
            message.envelope.recipients[0].address.to_string(),
            "bob@elsewhere.example"
        );
        let mut body = String::new();
        std::io::Read::read_to_string(&mut spool.body(&message.id).expect("body"), &mut body)
            .expect("read body");
        assert!(
            body.starts_with("Received: from me (localhost [127.0.0.1])"),
            "{body}"
        );
        assert!(body.ends_with("Subject: hi\r\n\r\nbody\r\n"), "{body}");
    }

    #[tokio::test]
    async fn input_ending_mid_message_keeps_nothing() {
        let (config, dir) = config("cut");
        let script = b"HELO me\r\nMAIL FROM:<a@local.test>\r\nRCPT TO:<b@x.example>\r\n\
            DATA\r\nSubject: cut\r\n\r\npartial";
        let replies = transcript(config, script).await;
        assert!(replies.contains("\r\n354 "), "{replies}");
        assert!(!replies.contains("\r\n250 2.0.0"), "{replies}");
        let spool = Spool::open(&dir.0).expect("spool");
        assert!(spool.list().expect("list").is_empty());
    }
}
