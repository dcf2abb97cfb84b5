//! The memory against real files in a scratch directory.

use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

const DAY: Duration = Duration::from_secs(86_400);

/// A directory removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("posthorn-tls-memory-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn memory(&self) -> TlsMemory {
        TlsMemory::in_spool(&self.0)
    }

    fn file(&self) -> PathBuf {
        self.0.join(FILE_NAME)
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A fixed whole-second clock, so times survive the file's second resolution.
fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

const T0: u64 = 1_700_000_000;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn keys(memory: &TlsMemory, now: SystemTime) -> Vec<String> {
    memory
        .list(now)
        .into_iter()
        .map(|entry| entry.key)
        .collect()
}

#[test]
fn a_missing_file_is_an_empty_memory() {
    let scratch = Scratch::new("missing");
    let memory = scratch.memory();
    assert_eq!(memory.path(), scratch.file());
    assert_eq!(
        memory.broken("mx.example.com", Some(ip("192.0.2.1")), at(T0)),
        None
    );
    assert!(memory.list(at(T0)).is_empty());
    assert_eq!(memory.forget(None).unwrap(), 0);
    assert!(
        !scratch.file().exists(),
        "forgetting nothing writes nothing"
    );
}

#[test]
fn entries_survive_reopening() {
    let scratch = Scratch::new("reopen");
    let memory = scratch.memory();
    let reason = "handshake failed: received fatal alert: HandshakeFailure";
    memory
        .remember(
            "MX1.Example.COM.",
            Some(ip("192.0.2.1")),
            reason,
            DAY,
            at(T0),
        )
        .unwrap();
    drop(memory);

    let reopened = scratch.memory();
    let expected = |key: &str| Remembered {
        key: key.to_owned(),
        until: at(T0) + DAY,
        recorded: at(T0),
        reason: reason.to_owned(),
    };
    assert_eq!(
        reopened.list(at(T0 + 1)),
        [expected("192.0.2.1"), expected("mx1.example.com")]
    );
}

#[test]
fn entries_expire() {
    let scratch = Scratch::new("expiry");
    let memory = scratch.memory();
    memory
        .remember("old.example", None, "eof", Duration::from_secs(60), at(T0))
        .unwrap();
    memory
        .remember("new.example", None, "eof", DAY, at(T0 + 30))
        .unwrap();
    assert!(memory.broken("old.example", None, at(T0 + 59)).is_some());
    assert_eq!(memory.broken("old.example", None, at(T0 + 60)), None);
    assert_eq!(keys(&memory, at(T0 + 60)), ["new.example"]);

    // The next write drops the expired entry from the file itself.
    memory
        .remember("third.example", None, "eof", DAY, at(T0 + 61))
        .unwrap();
    let text = fs::read_to_string(scratch.file()).unwrap();
    assert!(!text.contains("old.example"), "{text}");
    assert!(text.contains("new.example"), "{text}");
}

#[test]
fn a_zero_ttl_remembers_nothing() {
    let scratch = Scratch::new("zero");
    let memory = scratch.memory();
    memory
        .remember("mx.example", None, "eof", Duration::ZERO, at(T0))
        .unwrap();
    assert_eq!(memory.broken("mx.example", None, at(T0)), None);
    assert!(!scratch.file().exists());
}

#[test]
fn host_is_checked_before_ip_and_either_matches() {
    let scratch = Scratch::new("lookup");
    let memory = scratch.memory();
    memory
        .remember(
            "mx1.example.com",
            Some(ip("192.0.2.1")),
            "by host",
            DAY,
            at(T0),
        )
        .unwrap();
    memory
        .remember(
            "other.example",
            Some(ip("192.0.2.1")),
            "by ip",
            DAY,
            at(T0 + 1),
        )
        .unwrap();
    let now = at(T0 + 2);

    // The host's own entry wins over the (newer) entry of its address.
    let found = memory.broken("MX1.example.com.", Some(ip("192.0.2.1")), now);
    assert_eq!(found.map(|entry| entry.reason), Some("by host".to_owned()));
    // Another name on a remembered address matches by the address.
    let found = memory.broken("mx2.example.com", Some(ip("192.0.2.1")), now);
    assert_eq!(found.map(|entry| entry.key), Some("192.0.2.1".to_owned()));
    // A remembered name on another address still matches by name.
    assert!(memory
        .broken("mx1.example.com", Some(ip("192.0.2.9")), now)
        .is_some());
    assert_eq!(
        memory.broken("mx2.example.com", Some(ip("192.0.2.9")), now),
        None
    );
    assert_eq!(memory.broken("mx2.example.com", None, now), None);
    // A parent domain is not a match: the memory is per host.
    assert_eq!(memory.broken("example.com", None, now), None);
}

#[test]
fn ipv6_and_address_literals_share_one_key() {
    let now = SystemTime::now();
    let scratch = Scratch::new("ipv6");
    let memory = scratch.memory();
    memory
        .remember("[2001:DB8::0:1]", None, "eof", DAY, now)
        .unwrap();
    assert_eq!(keys(&memory, now), ["2001:db8::1"]);
    assert!(memory
        .broken("other.example", Some(ip("2001:db8::1")), now)
        .is_some());
    assert_eq!(memory.forget(Some("IPv6:2001:db8::1")).unwrap(), 1);
}

#[test]
fn forget_one_key_or_everything() {
    // forget() runs on the real clock, so the entries are remembered from it too.
    let now = SystemTime::now();
    let scratch = Scratch::new("forget");
    let memory = scratch.memory();
    for (host, address) in [("a.example", "192.0.2.1"), ("b.example", "192.0.2.2")] {
        memory
            .remember(host, Some(ip(address)), "eof", DAY, now)
            .unwrap();
    }
    // A host and the address remembered with it go together, from either side.
    assert_eq!(memory.forget(Some("A.Example.")).unwrap(), 2);
    assert_eq!(memory.forget(Some("[192.0.2.1]")).unwrap(), 0);
    assert_eq!(memory.forget(Some("nowhere.example")).unwrap(), 0);
    assert_eq!(keys(&scratch.memory(), now), ["192.0.2.2", "b.example"]);
    memory
        .remember("c.example", Some(ip("192.0.2.3")), "eof", DAY, now)
        .unwrap();
    assert_eq!(memory.forget(Some("192.0.2.3")).unwrap(), 2);
    assert_eq!(keys(&scratch.memory(), now), ["192.0.2.2", "b.example"]);

    assert_eq!(memory.forget(None).unwrap(), 2);
    assert!(memory.list(now).is_empty());
    assert!(scratch.memory().list(now).is_empty());
}

#[test]
fn forget_does_not_count_expired_entries() {
    let now = SystemTime::now();
    let scratch = Scratch::new("forget-expired");
    let memory = scratch.memory();
    let long_ago = now - 2 * DAY;
    memory
        .remember("old.example", None, "eof", DAY, long_ago)
        .unwrap();
    memory
        .remember("new.example", None, "eof", DAY, now)
        .unwrap();
    assert_eq!(memory.forget(Some("old.example")).unwrap(), 0);
    assert_eq!(memory.forget(None).unwrap(), 1);
}

#[test]
fn another_instance_sees_changes() {
    // Two instances on one file stand for the daemon and the CLI process.
    let scratch = Scratch::new("two");
    let daemon = scratch.memory();
    let cli = scratch.memory();
    assert_eq!(daemon.broken("mx.example", None, at(T0)), None);

    cli.remember("mx.example", None, "eof", DAY, at(T0))
        .unwrap();
    assert!(daemon.broken("mx.example", None, at(T0 + 1)).is_some());

    daemon
        .remember("mx2.example", None, "eof", DAY, at(T0 + 2))
        .unwrap();
    // The CLI's write came first, so the daemon's rewrite keeps it.
    assert_eq!(keys(&cli, at(T0 + 3)), ["mx.example", "mx2.example"]);

    fs::remove_file(scratch.file()).unwrap();
    assert_eq!(daemon.broken("mx.example", None, at(T0 + 4)), None);
}

#[test]
fn a_same_size_rewrite_is_noticed() {
    let now = SystemTime::now();
    let scratch = Scratch::new("same-size");
    let daemon = scratch.memory();
    let cli = scratch.memory();
    cli.remember("aa.example", None, "eof", DAY, now).unwrap();
    assert!(daemon.broken("aa.example", None, now).is_some());
    let first = fs::metadata(scratch.file()).unwrap().len();

    cli.forget(None).unwrap();
    cli.remember("bb.example", None, "eof", DAY, now).unwrap();
    // Same length, same times: only the file's identity tells the two apart.
    assert_eq!(fs::metadata(scratch.file()).unwrap().len(), first);
    assert_eq!(daemon.broken("aa.example", None, now), None);
    assert!(daemon.broken("bb.example", None, now).is_some());
}

#[test]
fn malformed_lines_are_skipped() {
    let scratch = Scratch::new("malformed");
    let text = format!(
        "# comment\n\
         \n\
         good.example {until} {T0} handshake failed: bad record mac\n\
         no-times.example\n\
         bad-until.example soon {T0} eof\n\
         bad-recorded.example {until} yesterday eof\n\
         MIXED.Case.Example. {until} {T0}\n\
         \u{feff}\u{0}garbage \u{1} \u{2}\n",
        until = T0 + 100
    );
    fs::write(scratch.file(), text).unwrap();
    let memory = scratch.memory();
    let entries = memory.list(at(T0));
    let keys: Vec<&str> = entries.iter().map(|entry| entry.key.as_str()).collect();
    assert_eq!(keys, ["good.example", "mixed.case.example"]);
    assert_eq!(entries[0].reason, "handshake failed: bad record mac");
    assert_eq!(entries[1].reason, "");
}

#[test]
fn a_reason_stays_on_one_line() {
    let scratch = Scratch::new("reason");
    let memory = scratch.memory();
    memory
        .remember("mx.example", None, "line one\r\nline two\n", DAY, at(T0))
        .unwrap();
    let reopened = scratch.memory();
    let found = reopened.broken("mx.example", None, at(T0)).unwrap();
    assert_eq!(found.reason, "line one  line two");
}

#[test]
fn rewrites_leave_no_temporary_files() {
    let scratch = Scratch::new("atomic");
    let memory = scratch.memory();
    for n in 0..5 {
        memory
            .remember(&format!("mx{n}.example"), None, "eof", DAY, at(T0))
            .unwrap();
    }
    memory.forget(Some("mx0.example")).unwrap();
    assert_eq!(scratch.names(), [FILE_NAME]);
}

#[test]
fn a_failed_write_leaves_the_old_file_and_no_temporary() {
    let scratch = Scratch::new("failed-write");
    let memory = scratch.memory();
    memory
        .remember("a.example", None, "eof", DAY, at(T0))
        .unwrap();
    // A directory where the file should be makes the rename fail.
    let blocked = Scratch::new("failed-write-blocked");
    fs::create_dir(blocked.file()).unwrap();
    fs::write(blocked.file().join("x"), "x").unwrap();
    let memory = blocked.memory();
    assert!(memory
        .remember("b.example", None, "eof", DAY, at(T0))
        .is_err());
    assert_eq!(blocked.names(), [FILE_NAME]);
    assert!(scratch.memory().broken("a.example", None, at(T0)).is_some());
}

#[test]
fn threads_share_one_memory() {
    let scratch = Scratch::new("threads");
    let memory = Arc::new(scratch.memory());
    let workers: Vec<_> = (0..8)
        .map(|n| {
            let memory = Arc::clone(&memory);
            std::thread::spawn(move || {
                memory
                    .remember(&format!("mx{n}.example"), None, "eof", DAY, at(T0))
                    .unwrap();
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(scratch.memory().list(at(T0)).len(), 8);
    assert_eq!(scratch.names(), [FILE_NAME]);
}

#[test]
fn keys_are_normalised() {
    assert_eq!(normalize_key(" MX.Example.COM. "), "mx.example.com");
    assert_eq!(normalize_key("[192.0.2.1]"), "192.0.2.1");
    assert_eq!(normalize_key("IPv6:2001:DB8:0::1"), "2001:db8::1");
    assert_eq!(normalize_key("[IPv6:2001:db8::1]"), "2001:db8::1");
    assert_eq!(normalize_key("ipv6.example"), "ipv6.example");
    assert_eq!(host_key("Mx.Example."), "mx.example");
}

#[test]
fn the_file_is_readable_text() {
    let scratch = Scratch::new("text");
    let memory = scratch.memory();
    memory
        .remember("mx.example", Some(ip("192.0.2.7")), "eof", DAY, at(T0))
        .unwrap();
    let text = fs::read_to_string(scratch.file()).unwrap();
    let entries: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let until = T0 + DAY.as_secs();
    assert_eq!(
        entries,
        [
            format!("192.0.2.7 {until} {T0} with=mx.example eof"),
            format!("mx.example {until} {T0} with=192.0.2.7 eof")
        ]
    );
}

#[tokio::test]
async fn async_records_reach_the_file_and_every_clone() {
    let scratch = Scratch::new("async");
    let memory = scratch.memory();
    let clone = memory.clone();
    let now = SystemTime::now();
    memory
        .remember_async(
            "MX.Example.".into(),
            Some(ip("192.0.2.7")),
            "eof".into(),
            DAY,
            now,
        )
        .await
        .unwrap();
    memory
        .remember_client_async(ip("192.0.2.8"), "handshake timed out".into(), DAY, now)
        .await
        .unwrap();
    assert_eq!(clone.broken("mx.example", None, now).unwrap().reason, "eof");
    assert!(clone.broken_client(ip("192.0.2.8"), now).is_some());
    let reread = scratch.memory();
    let keys: Vec<String> = reread
        .list(now)
        .into_iter()
        .map(|entry| entry.key)
        .collect();
    assert_eq!(keys, ["192.0.2.7", "client:192.0.2.8", "mx.example"]);
}
