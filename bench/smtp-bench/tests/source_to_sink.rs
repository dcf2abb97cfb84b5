//! End to end on loopback: `posthorn-bench source` sends 50 messages to
//! `posthorn-bench sink`, in plaintext and with STARTTLS; the source's JSON report and
//! the sink's count file must both say 50.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_posthorn-bench");
const MESSAGES: u64 = 50;

/// A running sink, stopped with SIGTERM on drop if the test did not stop it.
struct Sink {
    child: Child,
    address: String,
}

impl Sink {
    fn start(count_file: &Path, tls: Option<(&Path, &Path)>) -> Sink {
        let mut command = Command::new(BINARY);
        command
            .args(["sink", "--listen", "127.0.0.1:0", "--count-file"])
            .arg(count_file)
            .stdout(Stdio::piped());
        if let Some((certificate, key)) = tls {
            command
                .arg("--tls-cert")
                .arg(certificate)
                .arg("--tls-key")
                .arg(key);
        }
        let mut child = command.spawn().expect("sink starts");
        let stdout = child.stdout.take().expect("sink stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("sink says where it listens");
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected sink output {line:?}"))
            .to_owned();
        Sink { child, address }
    }

    /// SIGTERM, and the exit status must be success.
    fn stop(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        assert!(self.child.wait().expect("sink exits").success());
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn run_source(address: &str, starttls: bool) -> serde_json::Value {
    let mut command = Command::new(BINARY);
    command.args([
        "source",
        "--server",
        address,
        "--messages",
        &MESSAGES.to_string(),
        "--sessions",
        "4",
        "--size",
        "10240",
        "--per-connection",
        "10",
        "--json",
    ]);
    if starttls {
        command.arg("--starttls");
    }
    let output = command.output().expect("source runs");
    assert!(
        output.status.success(),
        "source failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("source prints JSON")
}

fn read_count(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn wait_for_count(path: &Path, expected: u64) -> Option<u64> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let count = read_count(path);
        if count == Some(expected) || Instant::now() > deadline {
            return count;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn write_certificate(directory: &Path) -> (PathBuf, PathBuf) {
    let (certificate, key) = (directory.join("cert.pem"), directory.join("key.pem"));
    let generated = rcgen::generate_simple_self_signed(vec!["sink.test".to_owned()])
        .expect("rcgen makes a certificate");
    std::fs::write(&certificate, generated.cert.pem()).expect("write certificate");
    std::fs::write(&key, generated.signing_key.serialize_pem()).expect("write key");
    (certificate, key)
}

fn fifty_messages_arrive(starttls: bool) {
    let directory = tempfile::tempdir().expect("tempdir");
    let count_file = directory.path().join("count");
    let tls = starttls.then(|| write_certificate(directory.path()));
    let mut sink = Sink::start(
        &count_file,
        tls.as_ref()
            .map(|(cert, key)| (cert.as_path(), key.as_path())),
    );
    let report = run_source(&sink.address, starttls);
    assert_eq!(report["sent"], MESSAGES, "report: {report}");
    assert_eq!(report["failed"], 0, "report: {report}");
    assert_eq!(report["connect_errors"], 0, "report: {report}");
    assert!(report["latency_ms"]["p99"].as_f64().is_some());
    assert!(report["messages_per_second"].as_f64().unwrap_or(0.0) > 0.0);
    assert_eq!(wait_for_count(&count_file, MESSAGES), Some(MESSAGES));
    sink.stop();
    assert_eq!(read_count(&count_file), Some(MESSAGES));
}

#[test]
fn plaintext_source_to_sink() {
    fifty_messages_arrive(false);
}

#[test]
fn starttls_source_to_sink() {
    fifty_messages_arrive(true);
}

/// Serves one SMTP session on `listener`, answering every command, and returns the
/// command lines it read (the body lines excluded).
fn scripted_session(listener: std::net::TcpListener) -> Vec<String> {
    use std::io::Write;
    let (stream, _) = listener.accept().expect("source connects");
    let mut writer = stream.try_clone().expect("clone the socket");
    let mut reader = BufReader::new(stream);
    writer
        .write_all(b"220 scripted.test ESMTP\r\n")
        .expect("greet");
    let mut commands = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line).expect("read a command") > 0 {
        let command = line.trim_end().to_owned();
        line.clear();
        let reply: &[u8] = match command.split(' ').next().unwrap_or("") {
            "EHLO" => b"250-scripted.test\r\n250 PIPELINING\r\n",
            "DATA" => b"354 go on\r\n",
            "QUIT" => b"221 bye\r\n",
            _ => b"250 ok\r\n",
        };
        let is_data = command == "DATA";
        commands.push(command);
        writer.write_all(reply).expect("reply");
        if is_data {
            while reader.read_line(&mut line).expect("read the body") > 0 {
                let end = line == ".\r\n";
                line.clear();
                if end {
                    break;
                }
            }
            writer
                .write_all(b"250 queued\r\n")
                .expect("reply to the body");
        }
    }
    commands
}

#[test]
fn noops_are_extra_round_trips_after_ehlo() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let server = std::thread::spawn(move || scripted_session(listener));
    let output = Command::new(BINARY)
        .args([
            "source",
            "--server",
            &address,
            "--messages",
            "1",
            "--sessions",
            "1",
        ])
        .args(["--size", "2048", "--noops", "3", "--json"])
        .output()
        .expect("source runs");
    assert!(
        output.status.success(),
        "source failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let commands = server.join().expect("scripted server");
    let verbs: Vec<&str> = commands
        .iter()
        .map(|command| command.split([' ', ':']).next().unwrap_or(""))
        .collect();
    assert_eq!(
        verbs,
        ["EHLO", "NOOP", "NOOP", "NOOP", "MAIL", "RCPT", "DATA", "QUIT"],
        "commands: {commands:?}"
    );
}
