//! `DovecotAuth` against a fake Dovecot auth server on a Unix socket, plus the pure
//! request and reply functions.

use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;

use super::*;

const HANDSHAKE: &str = "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\n\
                         SPID\t4242\nCUID\t7\nCOOKIE\t0123456789abcdef0123456789abcdef\nDONE\n";

/// How the fake server behaves after the client's hello.
#[derive(Clone, Copy)]
enum Fake {
    /// The real thing: `alice`/`wonderland` is OK (as `alice@example.com`), `tmp` is a
    /// temporary failure, anything else FAIL.
    Working,
    /// Offers only LOGIN.
    NoPlain,
    /// Answers AUTH with CONT.
    Continues,
    /// Major version 2.
    WrongVersion,
    /// Sends half a handshake, then closes.
    ClosesEarly,
    /// Handshake, then never answers.
    Silent,
    /// Answers another request id.
    WrongId,
}

struct FakeServer {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    /// Every line clients sent, in order.
    received: Arc<Mutex<Vec<String>>>,
}

impl FakeServer {
    fn start(behaviour: Fake) -> FakeServer {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("auth-client");
        let listener = UnixListener::bind(&socket).unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, behaviour, Arc::clone(&log)));
            }
        });
        FakeServer {
            _dir: dir,
            socket,
            received,
        }
    }

    fn client(&self) -> DovecotAuth {
        DovecotAuth::new(self.socket.clone())
    }

    fn lines(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

async fn serve(stream: tokio::net::UnixStream, behaviour: Fake, log: Arc<Mutex<Vec<String>>>) {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    let handshake = match behaviour {
        Fake::NoPlain => HANDSHAKE.replace("MECH\tPLAIN\tplaintext\n", ""),
        Fake::WrongVersion => HANDSHAKE.replace("VERSION\t1", "VERSION\t2"),
        Fake::ClosesEarly => "VERSION\t1\t2\nMECH\tPLAIN\n".to_owned(),
        _ => HANDSHAKE.to_owned(),
    };
    // Dovecot sends its handshake without waiting for the client's.
    writer.write_all(handshake.as_bytes()).await.unwrap();
    if matches!(behaviour, Fake::ClosesEarly) {
        // Read the client's VERSION and CPID first, so the close is a clean end of
        // stream rather than a reset for unread data.
        for _ in 0..2 {
            let _ = lines.next_line().await;
        }
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        log.lock().unwrap().push(line.clone());
        let Some(rest) = line.strip_prefix("AUTH\t") else {
            continue;
        };
        let id = rest.split('\t').next().unwrap().to_owned();
        let answer = match behaviour {
            Fake::Silent => continue,
            Fake::Continues => format!("CONT\t{id}\t\n"),
            Fake::WrongId => format!("OK\t{id}9\tuser=alice\n"),
            _ => answer_plain(&id, &line),
        };
        writer.write_all(answer.as_bytes()).await.unwrap();
    }
}

fn answer_plain(id: &str, line: &str) -> String {
    let response = line
        .split('\t')
        .find_map(|field| field.strip_prefix("resp="))
        .unwrap();
    let plain = base64::engine::general_purpose::STANDARD
        .decode(response)
        .unwrap();
    match plain.as_slice() {
        b"\0alice\0wonderland" => format!("OK\t{id}\tuser=alice@example.com\n"),
        b"\0tmp\0x" => format!("FAIL\t{id}\tuser=tmp\ttemp\treason=backend\x01tdown\n"),
        _ => format!("FAIL\t{id}\tuser=someone\n"),
    }
}

fn localhost() -> Option<IpAddr> {
    Some("192.0.2.25".parse().unwrap())
}

#[tokio::test]
async fn ok_for_the_right_password_fail_otherwise() {
    let server = FakeServer::start(Fake::Working);
    let client = server.client();
    let verdict = client.verify("alice", "wonderland", localhost()).await;
    assert_eq!(
        verdict.unwrap(),
        Verdict::Accepted {
            identity: "alice@example.com".into()
        }
    );
    let verdict = client.verify("alice", "looking-glass", None).await;
    assert_eq!(verdict.unwrap(), Verdict::Rejected);

    let lines = server.lines();
    assert_eq!(lines[0], "VERSION\t1\t2");
    assert_eq!(lines[1], format!("CPID\t{}", std::process::id()));
    let auth: Vec<&str> = lines[2].split('\t').collect();
    assert_eq!(
        auth[..7],
        [
            "AUTH",
            "1",
            "PLAIN",
            "service=smtp",
            "nologin",
            "secured",
            "rip=192.0.2.25"
        ]
    );
    assert!(auth[7].starts_with("resp="));
    // The second request on its own connection, with its own id and no rip.
    assert!(lines[5].starts_with("AUTH\t2\tPLAIN\tservice=smtp\tnologin\tsecured\tresp="));
}

#[tokio::test]
async fn temporary_failures_are_errors_not_rejections() {
    let server = FakeServer::start(Fake::Working);
    let error = server.client().verify("tmp", "x", None).await.unwrap_err();
    assert!(
        matches!(&error, AuthError::Unavailable(text) if text.ends_with("backend\tdown")),
        "{error}"
    );
}

#[tokio::test]
async fn tabs_and_newlines_are_rejected_without_asking() {
    let server = FakeServer::start(Fake::Working);
    let client = server.client();
    for (user, password) in [("ali\tce", "pw"), ("alice", "wonder\nland"), ("a\0", "x")] {
        let verdict = client.verify(user, password, None).await.unwrap();
        assert_eq!(verdict, Verdict::Rejected);
    }
    assert!(server.lines().is_empty(), "{:?}", server.lines());
}

#[tokio::test]
async fn broken_servers_are_temporary_errors() {
    let cases = [
        (Fake::NoPlain, "does not offer the PLAIN"),
        (Fake::Continues, "CONT"),
        (Fake::WrongVersion, "unsupported protocol version"),
        (Fake::ClosesEarly, "during the handshake"),
        (Fake::WrongId, "answered request"),
    ];
    for (behaviour, expected) in cases {
        let server = FakeServer::start(behaviour);
        let error = server
            .client()
            .verify("alice", "wonderland", None)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, AuthError::Protocol(text) if text.contains(expected)),
            "{expected}: {error}"
        );
    }
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let server = FakeServer::start(Fake::Silent);
    let client = server.client().with_timeout(Duration::from_millis(200));
    let error = client
        .verify("alice", "wonderland", None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AuthError::Unavailable(text) if text.contains("no answer")),
        "{error}"
    );
}

#[tokio::test]
async fn no_socket_is_unavailable() {
    let client = DovecotAuth::new(Path::new("/nonexistent/posthorn/auth-client").to_owned());
    let error = client.verify("alice", "x", None).await.unwrap_err();
    assert!(
        matches!(&error, AuthError::Unavailable(text) if text.contains("cannot connect")),
        "{error}"
    );
}

#[test]
fn the_request_line_carries_plain_credentials_in_base64() {
    let request = Request {
        id: 3,
        username: "alice",
        password: "wonderland",
        client: Some("2001:db8::1".parse().unwrap()),
    };
    assert_eq!(
        request.to_line(),
        "AUTH\t3\tPLAIN\tservice=smtp\tnologin\tsecured\trip=2001:db8::1\t\
         resp=AGFsaWNlAHdvbmRlcmxhbmQ=\n"
    );
}

#[test]
fn replies() {
    let request = Request {
        id: 5,
        username: "alice",
        password: "x",
        client: None,
    };
    let accepted = |identity: &str| {
        Ok::<_, ()>(Verdict::Accepted {
            identity: identity.to_owned(),
        })
    };
    let parse = |line: &str| parse_reply(line, &request).map_err(|_| ());
    assert_eq!(parse("OK\t5\tuser=bob"), accepted("bob"));
    assert_eq!(parse("OK\t5"), accepted("alice"));
    assert_eq!(parse("OK\t5\tuser=a\x01tb\x011"), accepted("a\tb\x01"));
    assert_eq!(parse("FAIL\t5"), Ok(Verdict::Rejected));
    assert_eq!(
        parse("FAIL\t5\tuser=alice\treason=nope"),
        Ok(Verdict::Rejected)
    );
    assert!(parse("FAIL\t5\ttemp").is_err());
    assert!(parse("OK\t6\tuser=bob").is_err());
    assert!(parse("HELLO\t5").is_err());
    assert!(parse("").is_err());
}
