//! A client for Dovecot's authentication protocol (the "auth-client" socket Postfix
//! uses for `smtpd_sasl_type = dovecot`).
//!
//! One connection per request: connect, send `VERSION` and `CPID`, read the server's
//! handshake up to `DONE`, check that it offers PLAIN, send one `AUTH` with the
//! credentials as PLAIN's initial response, and read `OK` or `FAIL`. The whole exchange
//! has one deadline. The protocol is line based, fields separated by tabs; values
//! Dovecot sends are "tab-escaped" (`\x01` + `1`/`t`/`r`/`n`/`0`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::{AuthError, Authenticator, BoxFuture, Verdict};

/// Longest exchange with Dovecot before the client gets `454`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longer lines from Dovecot are a protocol error (its own lines are far shorter).
const MAX_LINE: u64 = 64 * 1024;

/// The protocol version we speak (major, minor).
const VERSION_MAJOR: &str = "1";

/// Checks credentials against Dovecot's auth socket; implements [`Authenticator`].
#[derive(Debug)]
pub struct DovecotAuth {
    socket: PathBuf,
    timeout: Duration,
    /// Request ids, unique within this process (logged by Dovecot).
    next_id: AtomicU32,
}

impl DovecotAuth {
    /// A client of the socket at `socket`, e.g. `/run/dovecot/auth-client`.
    pub fn new(socket: PathBuf) -> DovecotAuth {
        DovecotAuth {
            socket,
            timeout: DEFAULT_TIMEOUT,
            next_id: AtomicU32::new(1),
        }
    }

    /// Replaces the 10 s deadline for one whole exchange.
    pub fn with_timeout(mut self, timeout: Duration) -> DovecotAuth {
        self.timeout = timeout;
        self
    }

    async fn exchange(&self, request: &Request<'_>) -> Result<Verdict, AuthError> {
        let stream = UnixStream::connect(&self.socket).await.map_err(|error| {
            let socket = self.socket.display();
            AuthError::Unavailable(format!("cannot connect to Dovecot at {socket}: {error}"))
        })?;
        let (reader, mut writer) = stream.into_split();
        let mut reader = BufReader::new(reader);
        let hello = format!(
            "VERSION\t{VERSION_MAJOR}\t2\nCPID\t{}\n",
            std::process::id()
        );
        writer.write_all(hello.as_bytes()).await?;
        read_handshake(&mut reader).await?;
        writer.write_all(request.to_line().as_bytes()).await?;
        let reply = read_line(&mut reader)
            .await?
            .ok_or_else(|| AuthError::Protocol("Dovecot closed without answering AUTH".into()))?;
        parse_reply(&reply, request)
    }
}

impl Authenticator for DovecotAuth {
    fn verify<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
        client: Option<IpAddr>,
    ) -> BoxFuture<'a, Result<Verdict, AuthError>> {
        Box::pin(async move {
            // Such credentials cannot be real, and would need escaping we do not trust
            // every Dovecot version to undo the same way.
            if !is_sendable(username) || !is_sendable(password) {
                return Ok(Verdict::Rejected);
            }
            let request = Request {
                id: self.next_id.fetch_add(1, Ordering::Relaxed),
                username,
                password,
                client,
            };
            match tokio::time::timeout(self.timeout, self.exchange(&request)).await {
                Ok(result) => result,
                Err(_) => Err(AuthError::Unavailable(format!(
                    "no answer from Dovecot at {} within {}s",
                    self.socket.display(),
                    self.timeout.as_secs_f32()
                ))),
            }
        })
    }
}

fn is_sendable(text: &str) -> bool {
    !text.contains(['\t', '\n', '\r', '\0'])
}

/// One `AUTH` request.
struct Request<'a> {
    id: u32,
    username: &'a str,
    password: &'a str,
    client: Option<IpAddr>,
}

impl Request<'_> {
    /// `AUTH <id> PLAIN service=smtp nologin secured [rip=IP] resp=BASE64(\0user\0pass)`.
    /// `nologin`: we only verify, Dovecot sets up no login; `secured`: AUTH is only
    /// offered over TLS.
    fn to_line(&self) -> String {
        let plain = format!("\0{}\0{}", self.username, self.password);
        let response = base64::engine::general_purpose::STANDARD.encode(plain);
        let client = self
            .client
            .map(|ip| format!("\trip={ip}"))
            .unwrap_or_default();
        format!(
            "AUTH\t{}\tPLAIN\tservice=smtp\tnologin\tsecured{client}\tresp={response}\n",
            self.id
        )
    }
}

/// Reads the server's handshake up to `DONE`: a version we speak and PLAIN offered.
async fn read_handshake<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Result<(), AuthError> {
    let mut offers_plain = false;
    loop {
        let line = read_line(reader).await?.ok_or_else(|| {
            AuthError::Protocol("Dovecot closed the connection during the handshake".into())
        })?;
        let mut fields = line.split('\t');
        match fields.next() {
            Some("VERSION") if fields.next() != Some(VERSION_MAJOR) => {
                return Err(AuthError::Protocol(format!(
                    "Dovecot speaks an unsupported protocol version: {line:?}"
                )))
            }
            Some("MECH") => {
                offers_plain |= fields
                    .next()
                    .is_some_and(|name| name.eq_ignore_ascii_case("PLAIN"))
            }
            Some("DONE") if offers_plain => return Ok(()),
            Some("DONE") => {
                return Err(AuthError::Protocol(
                    "Dovecot does not offer the PLAIN mechanism".into(),
                ))
            }
            // SPID, CUID, COOKIE and anything newer: nothing we need.
            _ => {}
        }
    }
}

/// `OK` accepts (with Dovecot's `user=`), `FAIL` rejects unless marked `temp`.
fn parse_reply(line: &str, request: &Request<'_>) -> Result<Verdict, AuthError> {
    let mut fields = line.split('\t');
    let command = fields.next().unwrap_or_default();
    let id = fields.next().unwrap_or_default();
    if id != request.id.to_string() {
        return Err(AuthError::Protocol(format!(
            "Dovecot answered request {id:?}, not {}: {line:?}",
            request.id
        )));
    }
    let parameters: Vec<(&str, Option<String>)> = fields
        .map(|field| match field.split_once('=') {
            Some((key, value)) => (key, Some(tab_unescape(value))),
            None => (field, None),
        })
        .collect();
    let parameter = |name: &str| parameters.iter().find(|(key, _)| *key == name);
    match command {
        "OK" => {
            let identity = parameter("user")
                .and_then(|(_, value)| value.clone())
                .filter(|user| !user.is_empty())
                .unwrap_or_else(|| request.username.to_owned());
            Ok(Verdict::Accepted { identity })
        }
        "FAIL" if parameter("temp").is_some() => {
            let reason = parameter("reason").and_then(|(_, value)| value.clone());
            Err(AuthError::Unavailable(format!(
                "Dovecot: temporary failure: {}",
                reason.as_deref().unwrap_or("no reason given")
            )))
        }
        "FAIL" => Ok(Verdict::Rejected),
        "CONT" => Err(AuthError::Protocol(
            "Dovecot asked for more (CONT) after a complete PLAIN response".into(),
        )),
        _ => Err(AuthError::Protocol(format!(
            "unexpected answer from Dovecot: {line:?}"
        ))),
    }
}

/// Undoes Dovecot's `str_tabescape`: `\x01` followed by `1`, `t`, `r`, `n` or `0`.
fn tab_unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\x01' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('1') => out.push('\x01'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// One line without its `\n` (and `\r`); `None` at a clean end of stream.
async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> Result<Option<String>, AuthError> {
    let mut line = Vec::new();
    let read = reader.take(MAX_LINE).read_until(b'\n', &mut line).await?;
    if read == 0 {
        return Ok(None);
    }
    if line.pop() != Some(b'\n') {
        return Err(AuthError::Protocol(
            "Dovecot sent an unterminated or overlong line".into(),
        ));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| AuthError::Protocol("Dovecot sent a line that is not UTF-8".into()))
}

#[cfg(test)]
mod tests;
