//! Messages and their state come back exactly as written, also after reopening.

mod common;

use std::io::Read;
use std::time::{Duration, UNIX_EPOCH};

use common::{full_envelope, pseudo_random_body, queue_message, simple_envelope};
use posthorn_spool::{RecipientState, RecipientStatus, Spool, SpoolError};

#[test]
fn envelope_with_every_field_round_trips_through_load_and_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let envelope = full_envelope();
    let queued = queue_message(&spool, &envelope, b"Subject: x\r\n\r\nhi\r\n");
    assert_eq!(queued.envelope, envelope);
    assert_eq!(queued.size, 18);
    assert!(!queued.held);
    assert!(!queued.delay_notified);

    let reopened = Spool::open(dir.path()).expect("reopen");
    let loaded = reopened.load(&queued.id).expect("load");
    assert_eq!(loaded, queued);
    assert_eq!(reopened.list().expect("list"), vec![queued]);
}

#[test]
fn five_megabyte_body_in_odd_chunks_reads_back_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let body = pseudo_random_body(5 * 1024 * 1024 + 17);
    let mut writer = spool.create(&simple_envelope(1)).expect("create");
    let sizes = [1, 7, 65_535, 65_536, 65_537, 100_003, 3];
    let mut rest = &body[..];
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (now, later) = rest.split_at((*size).min(rest.len()));
        writer.write(now).expect("write");
        rest = later;
    }
    assert_eq!(writer.size(), body.len() as u64);
    let queued = writer.commit().wait().expect("commit");
    assert_eq!(queued.size, body.len() as u64);

    let mut read_back = Vec::new();
    let mut reader = spool.body(&queued.id).expect("body");
    let mut buffer = [0; 4093];
    loop {
        let count = reader.read(&mut buffer).expect("read");
        if count == 0 {
            break;
        }
        read_back.extend_from_slice(&buffer[..count]);
    }
    assert!(
        read_back == body,
        "body differs after {} bytes",
        read_back.len()
    );
    assert_eq!(
        spool.load(&queued.id).expect("load").size,
        body.len() as u64
    );
}

#[test]
fn empty_body_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let queued = queue_message(&spool, &simple_envelope(1), b"");
    let mut body = Vec::new();
    spool
        .body(&queued.id)
        .expect("body")
        .read_to_end(&mut body)
        .expect("read");
    assert!(body.is_empty());
    assert_eq!(queued.size, 0);
}

#[test]
fn updates_hold_release_and_delete_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let queued = queue_message(&spool, &full_envelope(), b"body\r\n");
    let deferred = RecipientState {
        status: RecipientStatus::Deferred,
        attempts: 3,
        last_reply: Some("451 4.3.0 try later".into()),
        next_attempt: Some(UNIX_EPOCH + Duration::from_secs(1_700_003_600)),
    };
    let failed = RecipientState {
        status: RecipientStatus::Failed,
        attempts: 1,
        last_reply: Some("550 5.1.1 no such user".into()),
        next_attempt: None,
    };
    spool
        .update_recipients(&queued.id, &[(0, deferred.clone()), (2, failed.clone())])
        .expect("update");
    spool.hold(&queued.id).expect("hold");

    let reopened = Spool::open(dir.path()).expect("reopen");
    let loaded = reopened.load(&queued.id).expect("load");
    assert!(loaded.held);
    assert_eq!(loaded.envelope.recipients[0].state, deferred);
    assert_eq!(
        loaded.envelope.recipients[1].state,
        RecipientState::default()
    );
    assert_eq!(loaded.envelope.recipients[2].state, failed);

    let delivered = RecipientState {
        status: RecipientStatus::Delivered,
        attempts: 4,
        last_reply: Some("250 2.0.0 queued as 1234".into()),
        next_attempt: None,
    };
    reopened
        .update_recipients(&queued.id, &[(0, delivered.clone())])
        .expect("second update");
    reopened.release(&queued.id).expect("release");
    let recovered = Spool::open(dir.path())
        .expect("third open")
        .recover()
        .expect("recover");
    assert_eq!(recovered.messages.len(), 1);
    assert!(!recovered.messages[0].held);
    assert_eq!(
        recovered.messages[0].envelope.recipients[0].state,
        delivered
    );

    reopened.delete(&queued.id).expect("delete");
    let after = Spool::open(dir.path()).expect("fourth open");
    assert!(matches!(
        after.load(&queued.id),
        Err(SpoolError::NotFound(_))
    ));
    assert!(after.list().expect("list").is_empty());
    assert!(matches!(
        after.delete(&queued.id),
        Err(SpoolError::NotFound(_))
    ));
}

#[test]
fn operations_on_unknown_ids_and_recipients_are_typed_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let missing = "qAKNj3AB012345".parse().expect("valid id");
    assert!(matches!(spool.load(&missing), Err(SpoolError::NotFound(_))));
    assert!(matches!(spool.body(&missing), Err(SpoolError::NotFound(_))));
    assert!(matches!(spool.hold(&missing), Err(SpoolError::NotFound(_))));
    assert!(matches!(
        spool.mark_delay_notified(&missing),
        Err(SpoolError::NotFound(_))
    ));

    let queued = queue_message(&spool, &simple_envelope(1), b"x");
    let result = spool.update_recipients(&queued.id, &[(1, RecipientState::default())]);
    assert!(matches!(
        result,
        Err(SpoolError::NoSuchRecipient {
            index: 1,
            count: 1,
            ..
        })
    ));
    // The rejected update left the file as it was.
    assert_eq!(spool.load(&queued.id).expect("load"), queued);
}

#[test]
fn list_sorts_by_arrival_and_skips_unreadable_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let late = queue_message(&spool, &simple_envelope(300), b"late");
    let early = queue_message(&spool, &simple_envelope(100), b"early");
    let middle = queue_message(&spool, &simple_envelope(200), b"middle");
    std::fs::write(dir.path().join("queue/qAKNj3AB012345"), b"garbage").expect("write");

    let listing = spool.list_with_problems().expect("list");
    let ids: Vec<_> = listing.messages.iter().map(|m| m.id.clone()).collect();
    assert_eq!(ids, vec![early.id, middle.id, late.id]);
    assert_eq!(listing.unreadable.len(), 1);
    assert!(matches!(
        listing.unreadable[0].1,
        SpoolError::Corrupt { .. }
    ));
    assert_eq!(spool.list().expect("list").len(), 3);
}

#[test]
fn commit_resolves_as_a_future_on_a_runtime() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let queued = runtime.block_on(async {
        let mut writer = spool.create(&simple_envelope(5)).expect("create");
        writer.write(b"async body").expect("write");
        writer.commit().await
    });
    let queued = queued.expect("commit");
    assert_eq!(spool.load(&queued.id).expect("load"), queued);
}

#[test]
fn oversized_envelope_is_refused_before_touching_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let mut envelope = simple_envelope(1);
    envelope.client.helo = "h".repeat(posthorn_spool::MAX_ENVELOPE_LEN);
    assert!(matches!(
        spool.create(&envelope),
        Err(SpoolError::EnvelopeTooLarge { .. })
    ));
    let incoming = std::fs::read_dir(dir.path().join("incoming")).expect("readdir");
    assert_eq!(incoming.count(), 0);
}

#[test]
fn delay_notified_survives_reopen_recover_and_later_updates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = Spool::open(dir.path()).expect("open");
    let queued = queue_message(&spool, &full_envelope(), b"body\r\n");
    let other = queue_message(&spool, &simple_envelope(7), b"other\r\n");
    spool
        .mark_delay_notified(&queued.id)
        .expect("mark delay notified");
    assert!(spool.load(&queued.id).expect("load").delay_notified);

    let reopened = Spool::open(dir.path()).expect("reopen");
    let loaded = reopened.load(&queued.id).expect("load after reopen");
    assert!(loaded.delay_notified);
    assert_eq!(
        loaded.envelope, queued.envelope,
        "the marker changes nothing else"
    );
    assert!(!loaded.held);
    assert!(!reopened.load(&other.id).expect("load other").delay_notified);

    // Marking twice is harmless, and later updates and hold/release keep the flag.
    reopened
        .mark_delay_notified(&queued.id)
        .expect("mark again");
    let delivered = RecipientState {
        status: RecipientStatus::Delivered,
        attempts: 2,
        last_reply: Some("250 2.0.0 ok".into()),
        next_attempt: None,
    };
    reopened
        .update_recipients(&queued.id, &[(0, delivered.clone())])
        .expect("update");
    reopened.hold(&queued.id).expect("hold");
    reopened.release(&queued.id).expect("release");
    let recovered = Spool::open(dir.path())
        .expect("third open")
        .recover()
        .expect("recover");
    // Oldest arrival first: `other` (t=7s) before `queued` (2023).
    let flags: Vec<(bool, bool)> = recovered
        .messages
        .iter()
        .map(|message| (message.id == queued.id, message.delay_notified))
        .collect();
    assert_eq!(flags, vec![(false, false), (true, true)]);
    assert_eq!(
        recovered.messages[1].envelope.recipients[0].state,
        delivered
    );
}
