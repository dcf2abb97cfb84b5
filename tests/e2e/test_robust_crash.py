"""SIGKILL at the moments that matter (issue 7, point 1): during DATA, inside the commit
(at the file's data sync and at the queue directory's fsync, by strace), right after the
`250`, and on the delivery side after the remote `250`. After each, a restart on the same
spool holds every acknowledged message, complete, and nothing partial; a message is sent
twice only when the crash caught it between the remote `250` and the record of it.

`test_crash.py` kills at random moments under load; these tests pick the moment."""

from __future__ import annotations

import time

import pytest

from faults import (FreezingSink, StepwiseMessage, attached_strace, killed_in,
                    spool_files, wait_for_exit, wait_for_output, wait_for_spool_file)
from posthorn_harness import FAST_RETRIES, recipient_state

SINK = "127.0.0.3"


def delivering_daemon(daemon_factory, mx_port: int):
    """A daemon whose smarthost is the sink on SINK:mx_port, with fast retries."""
    return daemon_factory(config={"outbound": {"smarthost": f"[{SINK}]:{mx_port}"},
                                  "queue": dict(FAST_RETRIES)})


def assert_connection_dropped_without_reply(client) -> None:
    with pytest.raises((EOFError, ConnectionError)):
        reply = client.read_reply()
        pytest.fail(f"the client got {reply} from a daemon that was killed")


def test_kill_during_data_queues_nothing_and_restart_discards_the_partial_file(daemon):
    message = StepwiseMessage("cut-short@client.test")
    client = message.open_data(daemon.port())
    message.send_body(client, 0.5)
    partial = wait_for_spool_file(daemon.spool, "incoming")

    daemon.kill()
    assert_connection_dropped_without_reply(client)
    assert partial.exists(), "the partial message should still be on disk after the kill"

    daemon.start()
    wait_for_output(daemon, r"0 messages queued, 0 quarantined, 1 incomplete discarded")
    assert spool_files(daemon.spool, "incoming") == []
    assert spool_files(daemon.spool, "queue") == []
    assert daemon.queue() == []


@pytest.mark.parametrize("where", ["file-data-sync", "queue-directory-fsync"])
def test_kill_inside_the_commit_gives_no_250_and_never_a_partial_message(
        daemon_factory, sink_factory, mx_port, tmp_path, where):
    """strace kills the daemon as it enters the sync: at the data sync the message was
    never renamed into queue/ and is gone after a restart; at the directory fsync the
    rename came first, so the message is there, complete, and delivered once (the
    client, which got no 250, would send it again: the duplicate the issue allows)."""
    sink = sink_factory(SINK)
    daemon = delivering_daemon(daemon_factory, mx_port)
    message = StepwiseMessage(f"{where}@client.test")
    client = message.open_data(daemon.port())
    incoming = wait_for_spool_file(daemon.spool, "incoming")
    if where == "file-data-sync":
        target, calls = incoming, "fdatasync,syncfs"
    else:
        target, calls = daemon.spool.resolve() / "queue", "fsync"
    trace_file = tmp_path / "trace"
    with attached_strace(daemon.process.pid, trace_file, "-P", str(target),
                         "-e", f"trace={calls}", "-e", f"inject={calls}:signal=SIGKILL"):
        message.send_body(client)
        client.send(b".\r\n")
        assert_connection_dropped_without_reply(client)
        wait_for_exit(daemon.process, timeout=10)
    assert killed_in(trace_file, tuple(calls.split(","))), \
        f"strace never killed the daemon at a {calls} of {target}"

    # Read from the spool while the daemon is down: once up, it delivers at once.
    queue = daemon.queue()
    stored = {m["id"]: daemon.stored_message(m["id"]) for m in queue}
    daemon.start()
    if where == "file-data-sync":
        wait_for_output(daemon, r"0 messages queued, 0 quarantined, 1 incomplete discarded")
        assert queue == []
        time.sleep(1)
        assert sink.messages() == []
        return
    [queued] = queue
    assert queued["id"] == incoming.name
    assert stored[queued["id"]].endswith(message.content)
    wait_for_output(daemon, r"1 messages queued, 0 quarantined, 0 incomplete discarded")
    [delivered] = sink.wait_for_messages(1)
    assert delivered.content.endswith(message.content)
    daemon.wait_until_gone(queued["id"])
    time.sleep(2 * float(FAST_RETRIES["retry_max"].rstrip("s")))
    assert len(sink.messages()) == 1, "delivered more than once"


def test_kill_right_after_250_keeps_the_message(daemon):
    message = StepwiseMessage("acknowledged@client.test", body_lines=2000)
    client = message.open_data(daemon.port())
    message.send_body(client)
    reply = message.finish(client)
    daemon.kill()  # as soon as the client has read its 250
    assert reply.code == 250, reply
    queue_id = reply.lines[0].split()[1]

    daemon.start()
    [queued] = daemon.queue()
    assert queued["id"] == queue_id
    assert daemon.stored_message(queue_id).endswith(message.content)
    assert spool_files(daemon.spool, "incoming") == []


def test_kill_after_the_remote_250_before_it_is_recorded_delivers_again_once(
        daemon_factory, mx_port):
    """The sink stops the daemon (SIGSTOP) while it answers 250, then the daemon is
    killed: the 250 reached the socket but was never read. The spool must still hold the
    message as undelivered (recording delivery before the remote 250 could lose it), and
    after a restart it is delivered exactly once more."""
    with FreezingSink(SINK, mx_port) as sink:
        daemon = delivering_daemon(daemon_factory, mx_port)
        sink.freeze_pid = daemon.process.pid
        message = StepwiseMessage("handoff@client.test")
        reply = message.send(daemon.port())
        assert reply.code == 250, reply
        queue_id = reply.lines[0].split()[1]
        [first] = sink.wait_for(1)
        assert sink.frozen
        time.sleep(0.3)  # the 250 is in the daemon's socket buffer, unread
        daemon.kill()

        [queued] = daemon.queue()  # read from the spool; the daemon is down
        assert queued["id"] == queue_id
        assert recipient_state(queued, message.recipient)["status"] != "delivered"

        sink.freeze_pid = None
        daemon.start()
        daemon.wait_until_gone(queue_id, timeout=15)
        time.sleep(2 * float(FAST_RETRIES["retry_max"].rstrip("s")))
        copies = sink.accepted
        assert len(copies) == 2, f"expected the original and one duplicate, got {len(copies)}"
        assert copies[1] == first
        assert first.content.endswith(message.content)
