"""The disk under the spool (issue 7, points 2, 3 and 4): the syscall order that makes a
`250` safe, seen under strace on the daemon accepting over SMTP; write and sync failures
(ENOSPC, EIO) answered 452 4.3.1 / 451 4.3.0 and never 250, with nothing left in the
queue and mail accepted again once the disk recovers; corrupt, truncated and stray files
in `queue/` set aside at start while the good messages are delivered."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from faults import (StepwiseMessage, attached_strace, injected_calls, spool_files,
                    wait_for_output, wait_for_spool_file)
from posthorn_harness import FAST_RETRIES, simple_message

# --- point 2: file data sync -> rename -> directory fsync -> 250 ----------------------


@dataclass
class Call:
    """One traced system call: where its line starts and ends in the trace (a call
    another thread interrupted has an `<unfinished ...>` and a `resumed` line)."""
    start: int
    end: int
    pid: str
    text: str


TRACE_LINE = re.compile(r"^(\d+)\s+\S+\s+(.*)$")
RESUMED = re.compile(r"^<\.\.\. \w+ resumed>(.*)$")


def parse_trace(trace: str) -> list[Call]:
    """`strace -f -tt` output as calls in the order they started."""
    calls: list[Call] = []
    unfinished: dict[str, Call] = {}
    for index, line in enumerate(trace.splitlines()):
        match = TRACE_LINE.match(line)
        if match is None:
            continue
        pid, text = match.groups()
        resumed = RESUMED.match(text)
        if resumed is not None and pid in unfinished:
            call = unfinished.pop(pid)
            call.end, call.text = index, call.text + resumed.group(1)
        elif text.endswith("<unfinished ...>"):
            unfinished[pid] = Call(index, index, pid, text.removesuffix("<unfinished ...>"))
            calls.append(unfinished[pid])
        else:
            calls.append(Call(index, index, pid, text))
    return calls


def only(calls: list[Call], description: str) -> Call:
    assert len(calls) == 1, f"expected one {description}, found {[c.text for c in calls]}"
    return calls[0]


def test_syscall_order_file_sync_rename_directory_fsync_then_250(daemon, tmp_path):
    spool = daemon.spool.resolve()
    trace_file = tmp_path / "trace"
    message = StepwiseMessage("ordered@client.test")
    with attached_strace(daemon.process.pid, trace_file, "-tt", "-y", "-s", "200", "-e",
                         "trace=fsync,fdatasync,syncfs,rename,renameat,renameat2,write,sendto"):
        reply = message.send(daemon.port())
    assert reply.code == 250, reply
    queue_id = reply.lines[0].split()[1]
    calls = parse_trace(trace_file.read_text(errors="replace"))

    rename = only([c for c in calls if c.text.startswith("rename")
                   and f"/incoming/{queue_id}" in c.text and f"/queue/{queue_id}" in c.text
                   and c.text.rstrip().endswith("= 0")], f"rename of {queue_id}")
    data_sync = only([c for c in calls if c.end < rename.start and (
        c.text.startswith(("fdatasync(", "fsync(")) and f"{spool}/incoming/{queue_id}>" in c.text
        or c.text.startswith("syncfs("))], f"data sync of incoming/{queue_id}")
    assert data_sync.text.rstrip().endswith("= 0"), data_sync.text
    directory_syncs = [c for c in calls if c.start > rename.end and c.text.startswith("fsync(")
                       and f"<{spool}/queue>" in c.text and c.text.rstrip().endswith("= 0")]
    assert directory_syncs, f"no fsync of {spool}/queue after the rename"
    answer = only([c for c in calls if c.text.startswith(("write(", "sendto("))
                   and f"250 2.0.0 {queue_id} " in c.text], "write of the 250 reply")
    assert answer.start > directory_syncs[0].end, \
        "the 250 was written before the queue directory was synced"
    assert data_sync.pid == rename.pid == directory_syncs[0].pid, "one committer does all three"


# --- point 3: ENOSPC and EIO while writing or syncing ------------------------------------

@dataclass(frozen=True)
class DiskFault:
    call: str
    errno: str
    target: str  # "incoming": the message's own file; "queue": the queue directory
    code: int
    status: str


DISK_FAULTS = [
    DiskFault("write", "ENOSPC", "incoming", 452, "4.3.1"),
    DiskFault("write", "EIO", "incoming", 451, "4.3.0"),
    DiskFault("fdatasync", "ENOSPC", "incoming", 452, "4.3.1"),
    DiskFault("fdatasync", "EIO", "incoming", 451, "4.3.0"),
    DiskFault("fsync", "EIO", "queue", 451, "4.3.0"),
]


@pytest.mark.parametrize("fault", DISK_FAULTS, ids=lambda f: f"{f.call}-{f.errno}-{f.target}")
def test_disk_fault_is_refused_never_250_and_mail_is_accepted_after_it(daemon, tmp_path,
                                                                        fault: DiskFault):
    spool = daemon.spool.resolve()
    # 4,000 lines (~200 KB): several 64 KiB chunks are written while the fault is on.
    refused = StepwiseMessage("refused@client.test", body_lines=4000)
    client = refused.open_data(daemon.port())
    target = wait_for_spool_file(spool, "incoming") if fault.target == "incoming" \
        else spool / "queue"
    trace_file = tmp_path / "trace"
    with attached_strace(daemon.process.pid, trace_file, "-P", str(target),
                         "-e", f"trace={fault.call}",
                         "-e", f"inject={fault.call}:error={fault.errno}"):
        refused.send_body(client)
        reply = refused.finish(client)
    assert injected_calls(trace_file), f"strace never failed a {fault.call} on {target}"
    assert (reply.code, reply.lines[0].split()[0]) == (fault.code, fault.status), reply
    client.expect("RSET", 250)  # the session goes on: the client may retry at once

    assert spool_files(spool, "queue") == [], "a refused message was left in queue/"
    assert spool_files(spool, "incoming") == [], "a refused message was left in incoming/"
    assert daemon.queue() == []

    accepted = StepwiseMessage("accepted@client.test", body_lines=4000)
    client.expect(f"MAIL FROM:<{accepted.sender}>", 250)
    client.expect(f"RCPT TO:<{accepted.recipient}>", 250)
    client.expect("DATA", 354)
    accepted.send_body(client)
    assert accepted.finish(client).code == 250, "not accepted once the disk recovered"
    client.close()
    [queued] = daemon.queue()
    assert queued["sender"] == accepted.sender
    assert daemon.stored_message(queued["id"]).endswith(accepted.content)

    daemon.stop()
    daemon.start()
    wait_for_output(daemon, r"1 messages queued, 0 quarantined")
    assert [m["id"] for m in daemon.queue()] == [queued["id"]]


# --- point 4: unreadable files in queue/ at start -----------------------------------------

RECIPIENT = "rcpt@dest.example"
SINK = "127.0.0.3"


ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwx"  # queue ids


def sibling_id(queue_id: str, number: int) -> str:
    """Another valid, unused queue id: the same time, a counter no real id reaches."""
    return queue_id[:-2] + "x" + ALPHABET[number]


def plant_bad_files(queue: Path, good: bytes, base_id: str) -> dict[str, bytes]:
    """Unreadable files named like queued messages (and one that is not), each made from
    the good file `good`; returns their names and bytes."""
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x20
    bad = {
        sibling_id(base_id, 1): good[:len(good) // 2],  # cut inside the body
        sibling_id(base_id, 2): bytes(flipped),          # one bit wrong: fails its CRC
        sibling_id(base_id, 3): good[:-1],               # BodyEnd cut short
        sibling_id(base_id, 4): b"",                     # empty
        sibling_id(base_id, 5): b"From alice Mon Jan 1\r\nnot a spool file\r\n",
        "notes.txt": b"an administrator's stray file\n",
    }
    for name, content in bad.items():
        (queue / name).write_bytes(content)
    return bad


def test_corrupt_and_truncated_queue_files_are_quarantined_and_the_good_delivered(
        daemon_factory, sink_factory, mx_port):
    daemon = daemon_factory(config={"outbound": {"smarthost": f"[{SINK}]:{mx_port}"},
                                    "queue": dict(FAST_RETRIES)}, start=False)
    for tag in ("good-one", "good-two", "torn-tail"):
        result = daemon.sendmail("-f", f"{tag}@client.test", "-i", RECIPIENT,
                                 stdin=simple_message(f"{tag}@client.test", [RECIPIENT], tag))
        assert result.returncode == 0, result.stderr
    queue = daemon.spool / "queue"
    good_files = {path.name: path.read_bytes() for path in spool_files(daemon.spool, "queue")}
    assert len(good_files) == 3
    torn_id = next(name for name, content in good_files.items() if b"torn-tail" in content)
    # A crash in the middle of appending a state record, after the commit: not corrupt.
    with open(queue / torn_id, "ab") as torn:
        torn.write(b"\x10\x00")
    bad = plant_bad_files(queue, good_files[torn_id], torn_id)

    sink = sink_factory(SINK)
    daemon.start()

    report = wait_for_output(daemon, rf"3 messages queued, {len(bad)} quarantined")
    quarantine = daemon.spool / "quarantine"
    for name, content in bad.items():
        assert re.search(rf"^posthorn: quarantined \S*/queue/{re.escape(name)} -> "
                         rf"\S*/quarantine/{re.escape(name)}: .+$", report, re.M), report
        assert not (queue / name).exists(), f"{name} still in queue/"
        assert (quarantine / name).read_bytes() == content, f"{name} changed on the way"

    received = sink.wait_for_messages(3, timeout=15)
    subjects = sorted(re.search(rb"Subject: (\S+)", m.content).group(1) for m in received)
    assert subjects == [b"good-one", b"good-two", b"torn-tail"]
    for message in received:
        assert message.recipients == (RECIPIENT,)
        assert b"Body of " in message.content
    for queue_id in good_files:
        daemon.wait_until_gone(queue_id)
    assert sorted(p.name for p in spool_files(daemon.spool, "quarantine")) == sorted(bad)
