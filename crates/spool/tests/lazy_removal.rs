//! Removing a finished message does not wait for a directory sync, and its file
//! is not written over until a sync has made the removal durable.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{queue_message, simple_envelope};
use posthorn_spool::{QueueId, Spool, LAZY_REMOVALS_BEFORE_SYNC};

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(future)
}

fn remove_finished(spool: &Spool, id: &QueueId) {
    block_on(spool.remove_finished(id)).expect("remove_finished");
}

fn inode(dir: &Path, subdir: &str, name: &str) -> u64 {
    fs::metadata(dir.join(subdir).join(name))
        .expect("file")
        .ino()
}

fn directory_syncs(spool: &Spool) -> u64 {
    spool.commit_stats().directory_syncs
}

#[test]
fn a_finished_message_leaves_the_queue_without_a_directory_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open_with_spares(dir.path(), 4, 1 << 20).expect("open");
    let done = queue_message(&spool, &simple_envelope(1), b"done\r\n");
    let before = directory_syncs(&spool);

    remove_finished(&spool, &done.id);
    assert_eq!(directory_syncs(&spool), before);
    assert!(!dir.path().join("queue").join(done.id.as_ref()).exists());
    assert!(spool.list().expect("list").is_empty());
}

#[test]
fn its_file_is_reused_only_after_a_commit_synced_the_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open_with_spares(dir.path(), 4, 1 << 20).expect("open");
    let done = queue_message(&spool, &simple_envelope(1), b"done\r\n");
    let spare_name = format!("{}.spare", done.id.as_ref());
    let done_inode = inode(dir.path(), "queue", done.id.as_ref());
    remove_finished(&spool, &done.id);
    assert_eq!(inode(dir.path(), "incoming", &spare_name), done_inode);

    // The removal is not on disk yet: a new message gets a file of its own.
    let next = queue_message(&spool, &simple_envelope(1), b"next\r\n");
    assert_ne!(inode(dir.path(), "queue", next.id.as_ref()), done_inode);
    assert_eq!(inode(dir.path(), "incoming", &spare_name), done_inode);

    // That commit synced `queue/`, so the spare is in the pool now.
    let after = queue_message(&spool, &simple_envelope(1), b"after\r\n");
    assert_eq!(inode(dir.path(), "queue", after.id.as_ref()), done_inode);
    assert!(!dir.path().join("incoming").join(&spare_name).exists());
}

#[test]
fn enough_waiting_removals_sync_the_directory_themselves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open_with_spares(dir.path(), 0, 0).expect("open");
    let ids: Vec<QueueId> = (0..LAZY_REMOVALS_BEFORE_SYNC)
        .map(|_| queue_message(&spool, &simple_envelope(1), b"x\r\n").id)
        .collect();
    let before = directory_syncs(&spool);
    let (last, first) = ids.split_last().expect("ids");
    for id in first {
        remove_finished(&spool, id);
    }
    assert_eq!(
        directory_syncs(&spool),
        before,
        "no sync for the first ones"
    );
    remove_finished(&spool, last);
    assert_eq!(directory_syncs(&spool), before + 1);

    // The operator's delete is durable on return: a sync of its own.
    let kept = queue_message(&spool, &simple_envelope(1), b"y\r\n");
    let before = directory_syncs(&spool);
    spool.delete(&kept.id).expect("delete");
    assert_eq!(directory_syncs(&spool), before + 1);
}

#[test]
fn removing_a_message_that_is_not_queued_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open_with_spares(dir.path(), 4, 1 << 20).expect("open");
    let done = queue_message(&spool, &simple_envelope(1), b"done\r\n");
    remove_finished(&spool, &done.id);
    let again = block_on(spool.remove_finished(&done.id));
    assert!(
        matches!(again, Err(posthorn_spool::SpoolError::NotFound(ref id)) if *id == done.id),
        "{again:?}"
    );
}
