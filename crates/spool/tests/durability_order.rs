//! Checks under `strace` that the committer's syscalls come in the only safe
//! order: file data sync -> rename (or unlink) -> directory fsync -> answer.
//!
//! The test re-runs this binary's `strace_child` under `strace -f`. The child
//! makes a `stat` of `answered-ID` right after each answer arrives, so the
//! answer shows up in the trace. Without a usable `strace` the test says so and
//! passes.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};

use common::{queue_message, simple_envelope};
use posthorn_spool::{RecipientState, Spool};

const DIR_VARIABLE: &str = "POSTHORN_SPOOL_STRACE_DIR";

fn mark_answered(dir: &Path, label: &str) {
    let _ = std::fs::metadata(dir.join(format!("answered-{label}")));
}

#[test]
#[ignore = "run by durability_order_under_strace"]
fn strace_child() {
    let Some(dir) = std::env::var_os(DIR_VARIABLE) else {
        return;
    };
    let dir = Path::new(&dir);
    let spool = Spool::open(&dir.join("spool")).expect("open");
    let single = queue_message(&spool, &simple_envelope(1), b"alone");
    mark_answered(dir, single.id.as_ref());

    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (spool, barrier, dir) = (spool.clone(), Arc::clone(&barrier), dir.to_path_buf());
            std::thread::spawn(move || {
                let mut writer = spool.create(&simple_envelope(2)).expect("create");
                writer.write(b"together").expect("write");
                barrier.wait();
                let queued = writer.commit().wait().expect("commit");
                mark_answered(&dir, queued.id.as_ref());
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("join");
    }
    spool
        .update_recipients(&single.id, &[(0, RecipientState::default())])
        .expect("update");
    mark_answered(dir, "update");
    spool.delete(&single.id).expect("delete");
    mark_answered(dir, "delete");
    println!("SINGLE={}", single.id);
}

/// One traced syscall: thread id and the text after it.
struct Line<'a> {
    thread: &'a str,
    call: &'a str,
}

fn parse(trace: &str) -> Vec<Line<'_>> {
    trace
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(thread, call)| Line {
            thread,
            call: call.trim_start(),
        })
        .collect()
}

fn is_data_sync(call: &str) -> bool {
    call.contains("fdatasync") || call.contains("syncfs")
}

fn is_dir_fsync(call: &str) -> bool {
    (call.starts_with("fsync(") || call.contains("<... fsync resumed>")) && !is_data_sync(call)
}

/// Asserts data sync before `change`, then a directory fsync, then the answer.
fn assert_durable_order(lines: &[Line<'_>], change: usize, answer_label: &str) {
    let committer = lines[change].thread;
    let earlier: Vec<&Line<'_>> = lines[..change]
        .iter()
        .filter(|line| {
            line.thread == committer && (is_data_sync(line.call) || is_dir_fsync(line.call))
        })
        .collect();
    if !lines[change].call.contains("unlink") {
        let last = earlier.last().map(|line| line.call).unwrap_or("nothing");
        assert!(
            is_data_sync(last),
            "rename {} not preceded by a data sync but {last}",
            lines[change].call
        );
    }
    let fsync = (change..lines.len())
        .find(|&index| lines[index].thread == committer && is_dir_fsync(lines[index].call))
        .unwrap_or_else(|| panic!("no directory fsync after {}", lines[change].call));
    let answer = lines
        .iter()
        .position(|line| line.call.contains(&format!("answered-{answer_label}")))
        .unwrap_or_else(|| panic!("no answer marker for {answer_label}"));
    assert!(
        fsync < answer,
        "{answer_label} answered before the directory fsync"
    );
}

#[test]
fn durability_order_under_strace() {
    let probe = Command::new("strace")
        .args(["-o", "/dev/null", "true"])
        .status();
    if !probe.is_ok_and(|status| status.success()) {
        eprintln!("strace is not usable here; skipping the syscall order check");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let trace_path = dir.path().join("trace");
    let output = Command::new("strace")
        .arg("-f")
        .arg("-o")
        .arg(&trace_path)
        .arg("-e")
        .arg("trace=fdatasync,syncfs,fsync,rename,renameat,renameat2,unlink,unlinkat,statx,newfstatat,stat")
        .arg(std::env::current_exe().expect("current exe"))
        .args(["strace_child", "--exact", "--ignored", "--nocapture"])
        .env(DIR_VARIABLE, dir.path())
        .output()
        .expect("run strace");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "child failed: {stdout}");
    let trace = std::fs::read_to_string(&trace_path).expect("trace");
    let lines = parse(&trace);

    let renames: Vec<usize> = (0..lines.len())
        .filter(|&index| {
            lines[index].call.starts_with("rename") && lines[index].call.contains("/incoming/")
        })
        .collect();
    assert_eq!(renames.len(), 9, "one rename per commit:\n{trace}");
    for &rename in &renames {
        let id = lines[rename]
            .call
            .split("/incoming/")
            .nth(1)
            .and_then(|rest| rest.get(..14))
            .expect("id in rename");
        assert_durable_order(&lines, rename, id);
    }
    let syncfs_used = lines.iter().any(|line| line.call.contains("syncfs"));
    assert!(
        syncfs_used,
        "8 simultaneous commits never shared a syncfs:\n{trace}"
    );

    let committer = lines[renames[0]].thread;
    let update_answer = lines
        .iter()
        .position(|line| line.call.contains("answered-update"))
        .expect("update answer marker");
    let last_sync_before_update = lines[..update_answer]
        .iter()
        .rposition(|line| {
            line.thread == committer && (is_data_sync(line.call) || is_dir_fsync(line.call))
        })
        .expect("a sync before the update's answer");
    assert!(is_data_sync(lines[last_sync_before_update].call));
    assert!(
        last_sync_before_update > renames[renames.len() - 1],
        "update answered without its own sync"
    );

    let single = stdout
        .lines()
        .find_map(|line| line.strip_prefix("SINGLE="))
        .expect("child printed its id");
    let unlink = (0..lines.len())
        .find(|&index| {
            lines[index].call.starts_with("unlink") && lines[index].call.contains(single)
        })
        .expect("delete unlinks");
    assert_durable_order(&lines, unlink, "delete");
}
