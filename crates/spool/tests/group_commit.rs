//! Concurrent commits share syncs and all succeed.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::thread;

use common::{queue_message, simple_envelope};
use posthorn_spool::{QueueId, Spool};

const THREADS: usize = 16;

/// Commits one message from each of 16 threads at once; returns the ids.
fn commit_round(spool: &Spool, round: u64) -> Vec<QueueId> {
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|thread_index| {
            let spool = spool.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let body = format!("round {round} thread {thread_index}\r\n");
                let mut writer = spool.create(&simple_envelope(round)).expect("create");
                writer.write(body.as_bytes()).expect("write");
                barrier.wait();
                writer.commit().wait().expect("commit").id
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|handle| handle.join().expect("thread panicked"))
        .collect()
}

#[test]
fn sixteen_concurrent_commits_succeed_and_are_batched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let mut ids = Vec::new();
    // Batching depends on timing; a few rounds make "never batched" a real bug.
    for round in 0..10 {
        ids.extend(commit_round(&spool, round));
        if spool.commit_stats().largest_batch > 1 {
            break;
        }
    }
    let stats = spool.commit_stats();
    assert!(
        stats.largest_batch > 1,
        "no batch held more than one commit: {stats:?}"
    );
    assert!(stats.batches < stats.requests, "{stats:?}");
    assert_eq!(stats.requests, ids.len() as u64);

    let distinct: HashSet<&QueueId> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "queue ids must be unique");
    let listed: HashSet<QueueId> = spool
        .list()
        .expect("list")
        .into_iter()
        .map(|message| message.id)
        .collect();
    assert_eq!(listed, ids.iter().cloned().collect());
}

#[test]
fn two_spools_on_one_directory_never_reuse_an_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Spool::open(dir.path()).expect("open first");
    let second = Spool::open(dir.path()).expect("open second");
    let mut ids = HashSet::new();
    for index in 0..200 {
        let spool = if index % 2 == 0 { &first } else { &second };
        let queued = queue_message(spool, &simple_envelope(1), b"x");
        assert!(ids.insert(queued.id), "duplicate id");
    }
    assert_eq!(first.list().expect("list").len(), 200);
}
