//! Recovery after crashes: nothing unacknowledged survives, nothing acknowledged
//! is lost, and damaged files are set aside instead of crashing the daemon.

mod common;

use std::fs;
use std::io::Read;
use std::path::Path;

use common::{full_envelope, queue_message, simple_envelope};
use posthorn_spool::{QueuedMessage, RecipientState, RecipientStatus, Spool, SpoolError};

fn file_len(path: &Path) -> usize {
    fs::metadata(path).expect("metadata").len() as usize
}

fn entries(dir: &Path) -> usize {
    fs::read_dir(dir).expect("readdir").count()
}

#[test]
fn writer_dropped_without_commit_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let mut writer = spool.create(&simple_envelope(1)).expect("create");
    writer.write(&[b'x'; 100_000]).expect("write");
    assert_eq!(entries(&dir.path().join("incoming")), 1);
    drop(writer);
    assert_eq!(entries(&dir.path().join("incoming")), 0);
    let recovery = spool.recover().expect("recover");
    assert!(recovery.messages.is_empty());
    assert_eq!(recovery.discarded_incomplete, 0);
}

#[test]
fn incoming_leftovers_from_a_crash_are_discarded_but_live_writers_are_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    // A crashed writer's file: a complete-looking message never renamed.
    let complete = queue_message(&spool, &simple_envelope(1), b"never acked");
    let committed = dir.path().join("queue").join(complete.id.as_ref());
    fs::rename(&committed, dir.path().join("incoming/qAKNj3AB012345")).expect("move");
    let mut live = spool.create(&simple_envelope(2)).expect("create");
    live.write(b"still arriving").expect("write");

    let recovery = spool.recover().expect("recover");
    assert_eq!(recovery.discarded_incomplete, 1);
    assert!(recovery.messages.is_empty());
    assert_eq!(
        entries(&dir.path().join("incoming")),
        1,
        "live writer's file kept"
    );

    let queued = live.commit().wait().expect("commit after recovery");
    assert_eq!(spool.recover().expect("recover").messages, vec![queued]);
}

/// A committed message plus its file length after commit and after each update.
fn message_with_updates(spool: &Spool, dir: &Path) -> (QueuedMessage, Vec<(usize, QueuedMessage)>) {
    let queued = queue_message(spool, &full_envelope(), b"Subject: t\r\n\r\nbody\r\n");
    let path = dir.join("queue").join(queued.id.as_ref());
    let mut states = vec![(file_len(&path), queued.clone())];
    let deferred = RecipientState {
        status: RecipientStatus::Deferred,
        attempts: 1,
        last_reply: Some("421 4.4.2 timeout".into()),
        next_attempt: None,
    };
    spool
        .update_recipients(&queued.id, &[(1, deferred)])
        .expect("update");
    states.push((file_len(&path), spool.load(&queued.id).expect("load")));
    spool
        .mark_delay_notified(&queued.id)
        .expect("mark delay notified");
    states.push((file_len(&path), spool.load(&queued.id).expect("load")));
    spool.hold(&queued.id).expect("hold");
    states.push((file_len(&path), spool.load(&queued.id).expect("load")));
    (queued, states)
}

#[test]
fn a_file_truncated_at_every_offset_is_quarantined_or_keeps_a_prefix_of_updates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let (queued, states) = message_with_updates(&spool, dir.path());
    let path = dir.path().join("queue").join(queued.id.as_ref());
    let full = fs::read(&path).expect("read");
    let committed_len = states[0].0;
    for cut in 0..=full.len() {
        fs::write(&path, &full[..cut]).expect("write truncated");
        let recovery = spool.recover().expect("recover never fails on bad files");
        if cut < committed_len {
            assert!(recovery.messages.is_empty(), "cut {cut}");
            assert_eq!(recovery.quarantined.len(), 1, "cut {cut}");
            assert!(!path.exists(), "cut {cut}: quarantined file left in queue/");
            fs::remove_file(&recovery.quarantined[0].moved_to).expect("clean quarantine");
            continue;
        }
        let (end, expected) = states
            .iter()
            .rev()
            .find(|(end, _)| *end <= cut)
            .expect("a prefix state");
        assert!(recovery.quarantined.is_empty(), "cut {cut}");
        assert_eq!(recovery.messages, vec![expected.clone()], "cut {cut}");
        assert_eq!(file_len(&path), *end, "cut {cut}: torn tail not cut off");
    }
}

#[test]
fn torn_tail_is_cut_so_later_updates_still_decode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let (queued, states) = message_with_updates(&spool, dir.path());
    let path = dir.path().join("queue").join(queued.id.as_ref());
    let full = fs::read(&path).expect("read");
    // Crash in the middle of the Hold append.
    fs::write(&path, &full[..full.len() - 3]).expect("tear");
    let recovery = spool.recover().expect("recover");
    assert_eq!(recovery.messages, vec![states[2].1.clone()]);
    assert!(recovery.messages[0].delay_notified);

    spool.release(&queued.id).expect("release after recovery");
    let delivered = RecipientState {
        status: RecipientStatus::Delivered,
        attempts: 1,
        last_reply: None,
        next_attempt: None,
    };
    spool
        .update_recipients(&queued.id, &[(0, delivered.clone())])
        .expect("update after recovery");
    let loaded = spool.load(&queued.id).expect("load");
    assert_eq!(loaded.envelope.recipients[0].state, delivered);
    assert!(!loaded.held);
}

#[test]
fn a_flipped_body_byte_is_caught_by_the_crc_everywhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let queued = queue_message(&spool, &simple_envelope(1), b"pristine body bytes");
    let path = dir.path().join("queue").join(queued.id.as_ref());
    let mut bytes = fs::read(&path).expect("read");
    let at = bytes
        .windows(8)
        .position(|window| window == b"pristine")
        .expect("body is in the file");
    bytes[at] ^= 0x20;
    fs::write(&path, &bytes).expect("write");

    assert!(matches!(
        spool.load(&queued.id),
        Err(SpoolError::Corrupt { .. })
    ));
    let mut body = Vec::new();
    let read = spool
        .body(&queued.id)
        .expect("open body")
        .read_to_end(&mut body);
    assert_eq!(
        read.map_err(|error| error.kind()),
        Err(std::io::ErrorKind::InvalidData)
    );

    let recovery = spool.recover().expect("recover");
    assert!(recovery.messages.is_empty());
    assert_eq!(recovery.quarantined.len(), 1);
    assert!(
        recovery.quarantined[0].reason.contains("CRC"),
        "{:?}",
        recovery.quarantined
    );
    assert_eq!(
        fs::read(&recovery.quarantined[0].moved_to).expect("kept"),
        bytes
    );
}

#[test]
fn stray_files_in_the_queue_are_quarantined_and_names_do_not_clash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let good = queue_message(&spool, &simple_envelope(1), b"fine");
    fs::write(dir.path().join("queue/notes.txt"), b"hello").expect("write");
    fs::write(dir.path().join("quarantine/notes.txt"), b"older").expect("write");

    let recovery = spool.recover().expect("recover");
    assert_eq!(recovery.messages, vec![good]);
    assert_eq!(recovery.quarantined.len(), 1);
    let moved = &recovery.quarantined[0].moved_to;
    assert_eq!(moved, &dir.path().join("quarantine/notes.txt.1"));
    assert_eq!(fs::read(moved).expect("moved"), b"hello");
}
