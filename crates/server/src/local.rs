//! Local submission through the server's machinery: `sendmail -bs` (an SMTP session on
//! stdin/stdout, run by the same sans-IO session, reading and spool hand-off as a
//! network client), and the mail-log line of a message `sendmail` queued by itself.
//!
//! The local client is trusted as sendmail trusts it: it may relay, STARTTLS and AUTH
//! are not offered, and the access map still answers `From:` and `To:` lookups (as for
//! 127.0.0.1). It has no IP address: the envelope records none and the `Received:`
//! header names it `localhost`. It opens no listener; after each message it tells a
//! running daemon through the control socket, and without one the message waits in the
//! spool.

use std::net::{IpAddr, Ipv4Addr};

use posthorn_config::Config;
use posthorn_policy::RelayPolicy;
use posthorn_proto::session::{Action, ServerSession, SessionConfig};
use posthorn_spool::{QueueId, Spool};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::client_policy::ClientPolicy;
use crate::connection::{self, flush, read_with_timeout};
use crate::control::{self, ControlError, ControlRequest};
use crate::maillog;
use crate::read_buffer;
use crate::settings;
use crate::storage::{MessageHandoff, Origin};
use crate::ServerError;

/// What the access map is asked about the local client.
const LOCAL_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LOCAL_NAME: &str = "localhost";

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
    format!("{user}@{LOCAL_NAME}")
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
    let relay = settings::relay_policy(&config, settings::load_access_map(&config)?);
    let relay_label = relay_label(user);
    let origin = Origin {
        hostname: &config.hostname,
        client_ip: None,
        client_name: Some(LOCAL_NAME),
        relay_label: &relay_label,
    };
    let mut driver = LocalDriver {
        relay_label: &relay_label,
        config: &config,
        spool: &spool,
        relay: &relay,
        handoff: MessageHandoff::new(&spool, origin),
    };
    let mut session = ServerSession::new(session_config(&config));
    if let Err(error) = driver.run(&mut session, input, output).await {
        tracing::debug!(%error, "local SMTP session ended");
    }
    Ok(())
}

/// What a local session offers: the listener limits, no STARTTLS, no AUTH, and no
/// RFC 2920 synchronisation checks.
fn session_config(config: &Config) -> SessionConfig {
    let mut session = connection::session_config(config);
    session.extensions.starttls = false;
    // `sendmail -bs < script` sends the whole conversation at once, body included.
    session.pipelining_sync = false;
    session
}

struct LocalDriver<'a> {
    relay_label: &'a str,
    config: &'a Config,
    spool: &'a Spool,
    relay: &'a RelayPolicy,
    handoff: MessageHandoff<'a>,
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
        let mut buffer = vec![0u8; read_buffer::SMALL];
        let timeouts = &self.config.timeouts;
        loop {
            let mut policy = ClientPolicy {
                relay: self.relay,
                ip: LOCAL_IP,
                hostname: Some(LOCAL_NAME),
                authenticated: false,
                identity: None,
                sender_must_match: false,
                our_hostname: LOCAL_NAME,
                may_relay: true,
                relay_label: self.relay_label,
                // A local user is not a network client: TLS_Clt does not apply.
                tls_requirement: None,
                tls: None,
                spool: self.spool.path(),
                message_size: self.config.limits.message_size,
            };
            match session.poll(&mut policy) {
                Action::NeedInput => {
                    flush(&mut output, session).await?;
                    if !read_with_timeout(&mut input, session, &mut buffer, timeouts).await? {
                        return Ok(());
                    }
                }
                // Not offered, so never asked for; ending is the safe answer.
                Action::StartTls | Action::Authenticate(_) | Action::Close => {
                    flush(&mut output, session).await?;
                    return output.shutdown().await;
                }
                Action::StartMessage(_) => self.handoff.open(session, None),
                Action::Body(bytes) => self.handoff.write(bytes),
                Action::EndMessage => {
                    if let Some(message) = self.handoff.commit(session).await {
                        tell_daemon(self.spool, message.id).await;
                    }
                }
                Action::AbortMessage => self.handoff.abort(),
            }
        }
    }
}

/// Lets a running daemon deliver the message now; without one, its next start finds
/// the message in the spool.
async fn tell_daemon(spool: &Spool, id: QueueId) {
    let spool = spool.path().to_path_buf();
    let request = ControlRequest::Queued(id);
    let told = tokio::task::spawn_blocking(move || control::request(&spool, &request)).await;
    match told {
        Ok(Ok(())) | Ok(Err(ControlError::NotRunning { .. })) => {}
        Ok(Err(error)) => tracing::warn!(%error, "cannot tell the daemon about a new message"),
        Err(error) => tracing::warn!(%error, "cannot tell the daemon about a new message"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;
    use tokio::io::AsyncReadExt;

    /// A config whose spool is in a fresh directory, removed with the returned guard.
    fn config() -> (Config, TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = format!(
            "hostname = \"local.test\"\nspool = {:?}\n",
            dir.path().join("spool").display().to_string()
        );
        let config = Config::from_toml(&text, None).expect("config");
        (config, dir)
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
        let (config, dir) = config();
        let script = b"EHLO me\r\nMAIL FROM:<alice@local.test>\r\n\
            RCPT TO:<bob@elsewhere.example>\r\nDATA\r\n\
            Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n";
        let replies = transcript(config, script).await;
        assert!(replies.starts_with("220 local.test"), "{replies}");
        assert!(!replies.contains("STARTTLS"), "{replies}");
        assert!(replies.contains("\r\n354 "), "{replies}");
        assert!(replies.contains("\r\n221 "), "{replies}");
        let spool = Spool::open(&dir.path().join("spool")).expect("spool");
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
            body.starts_with("Received: from me (localhost)\r\n"),
            "{body}"
        );
        assert_eq!(message.envelope.client.address, None);
        assert_eq!(
            message.envelope.client.hostname.as_deref(),
            Some("localhost")
        );
        assert!(body.ends_with("Subject: hi\r\n\r\nbody\r\n"), "{body}");
    }

    #[tokio::test]
    async fn input_ending_mid_message_keeps_nothing() {
        let (config, dir) = config();
        let script = b"HELO me\r\nMAIL FROM:<a@local.test>\r\nRCPT TO:<b@x.example>\r\n\
            DATA\r\nSubject: cut\r\n\r\npartial";
        let replies = transcript(config, script).await;
        assert!(replies.contains("\r\n354 "), "{replies}");
        assert!(!replies.contains("\r\n250 2.0.0"), "{replies}");
        let spool = Spool::open(&dir.path().join("spool")).expect("spool");
        assert!(spool.list().expect("list").is_empty());
    }
}
