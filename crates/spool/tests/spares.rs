//! A daemon's spool writes new messages over the files of finished ones: the
//! reused file reads back as exactly the new message, and spares survive a restart.

mod common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{pseudo_random_body, queue_message, simple_envelope};
use posthorn_spool::{RecipientState, RecipientStatus, Spool};

fn spares_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir.join("incoming"))
        .expect("incoming")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

fn body_of(spool: &Spool, id: &posthorn_spool::QueueId) -> Vec<u8> {
    let mut body = Vec::new();
    spool
        .body(id)
        .expect("body")
        .read_to_end(&mut body)
        .expect("read body");
    body
}

#[test]
fn a_deleted_message_becomes_a_spare_and_the_next_message_reuses_its_inode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open_with_spares(dir.path(), 4, 1 << 20).expect("open");
    let first = queue_message(&spool, &simple_envelope(1), b"first\r\n");
    let inode = fs::metadata(dir.path().join("queue").join(first.id.as_ref()))
        .expect("queued file")
        .ino();
    spool.delete(&first.id).expect("delete");
    assert_eq!(
        spares_in(dir.path()),
        vec![format!("{}.spare", first.id.as_ref())]
    );

    let second = queue_message(&spool, &simple_envelope(1), b"second\r\n");
    let reused = fs::metadata(dir.path().join("queue").join(second.id.as_ref()))
        .expect("second file")
        .ino();
    assert_eq!(reused, inode, "the spare's inode carries the new message");
    assert!(spares_in(dir.path()).is_empty());
    assert_eq!(body_of(&spool, &second.id), b"second\r\n");
}

#[test]
fn a_short_message_over_a_long_spare_keeps_nothing_of_the_old_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open_with_spares(dir.path(), 4, 1 << 20).expect("open");
    let long = queue_message(&spool, &simple_envelope(3), &pseudo_random_body(150_000));
    let updates = [(
        0,
        RecipientState {
            status: RecipientStatus::Delivered,
            attempts: 1,
            last_reply: Some("250 ok".into()),
            next_attempt: None,
        },
    )];
    spool.update_recipients(&long.id, &updates).expect("update");
    spool.delete(&long.id).expect("delete");

    let short = queue_message(&spool, &simple_envelope(1), b"tiny\r\n");
    let loaded = spool.load(&short.id).expect("load");
    assert_eq!(
        loaded, short,
        "no recipient update of the old message applies"
    );
    assert_eq!(body_of(&spool, &short.id), b"tiny\r\n");
    // And a restart's recovery finds a well-formed file, not a torn tail.
    let reopened = Spool::open(dir.path()).expect("reopen");
    let recovery = reopened.recover().expect("recover");
    assert!(recovery.quarantined.is_empty());
    assert_eq!(recovery.messages, vec![short]);
}

#[test]
fn the_pool_is_bounded_and_large_files_are_unlinked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open_with_spares(dir.path(), 1, 1 << 20).expect("open");
    let big = queue_message(&spool, &simple_envelope(1), &pseudo_random_body(300 * 1024));
    spool.delete(&big.id).expect("delete");
    assert!(spares_in(dir.path()).is_empty(), "over 256 KiB: unlinked");

    let ids: Vec<_> = (0..3)
        .map(|_| queue_message(&spool, &simple_envelope(1), b"x\r\n").id)
        .collect();
    for id in &ids {
        spool.delete(id).expect("delete");
    }
    assert_eq!(spares_in(dir.path()).len(), 1, "one spare at most");
    assert!(fs::read_dir(dir.path().join("queue"))
        .expect("queue")
        .next()
        .is_none());
}

#[test]
fn spares_outlive_a_restart_and_are_not_counted_as_lost_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let spool = Spool::open_with_spares(dir.path(), 4, 1 << 20).expect("open");
        let done = queue_message(&spool, &simple_envelope(1), b"done\r\n");
        spool.delete(&done.id).expect("delete");
    }
    let spool = Spool::open_with_spares(dir.path(), 4, 1 << 20).expect("reopen");
    let recovery = spool.recover().expect("recover");
    assert_eq!(recovery.discarded_incomplete, 0);
    assert!(recovery.messages.is_empty());
    let spare = spares_in(dir.path());
    assert_eq!(spare.len(), 1);

    let next = queue_message(&spool, &simple_envelope(1), b"next\r\n");
    assert!(
        spares_in(dir.path()).is_empty(),
        "the recovered spare was reused"
    );
    assert_eq!(body_of(&spool, &next.id), b"next\r\n");
}

#[test]
fn the_cli_spool_unlinks_instead() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let message = queue_message(&spool, &simple_envelope(1), b"x\r\n");
    spool.delete(&message.id).expect("delete");
    assert!(spares_in(dir.path()).is_empty());
}
