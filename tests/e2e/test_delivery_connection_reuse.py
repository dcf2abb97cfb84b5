"""Several messages for one destination share connections (issue 3): ten messages
queued within a moment go out over fewer than ten SMTP sessions, each delivered once."""

from __future__ import annotations

from dns_server import MX, A
from faults import attached_strace
from posthorn_harness import simple_message, submit_many

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
SINK = "127.0.0.3"
MESSAGES = 10


def test_ten_messages_for_one_destination_use_fewer_connections(
        dns_server, sink_factory, delivery_daemon_factory):
    dns_server.set("dest.example", [MX(10, "mx.dest.example")])
    dns_server.set("mx.dest.example", [A(SINK)])
    sink = sink_factory(SINK)
    daemon = delivery_daemon_factory()

    tags = [f"reuse-{n}" for n in range(MESSAGES)]
    queue_ids = submit_many(daemon.port(), [
        (SENDER, [RECIPIENT], simple_message(SENDER, [RECIPIENT], tag)) for tag in tags])
    assert len(set(queue_ids)) == MESSAGES

    received = sink.wait_for_messages(MESSAGES, timeout=20)
    for queue_id in queue_ids:
        daemon.wait_until_gone(queue_id)
    bodies = sorted(tag for tag in tags for message in received
                    if f"Body of {tag}.".encode() in message.content)
    assert bodies == sorted(tags), "a message was lost or delivered twice"
    assert len(received) == MESSAGES
    connections = sink.connections()
    assert len(connections) < MESSAGES, \
        f"{len(connections)} connections for {MESSAGES} messages: no reuse"
    assert sum(c.messages for c in connections) == MESSAGES


BUSY_MESSAGES = 3
DATA_DELAY = 0.1  # per message at the sink; well inside the scheduler's 1 s copy window


def test_messages_that_wait_for_a_busy_destination_are_not_read_back_for_it(
        dns_server, sink_factory, delivery_daemon_factory, tmp_path):
    """With one connection allowed to the destination, messages accepted together wait
    for it in turn. The daemon keeps each message as accepted (envelope, recipient
    states) across that wait, so the spool file of each is opened once, for the body it
    sends, and never to read the message back."""
    dns_server.set("dest.example", [MX(10, "mx.dest.example")])
    dns_server.set("mx.dest.example", [A(SINK)])
    sink = sink_factory(SINK, data_delay=DATA_DELAY)
    daemon = delivery_daemon_factory({"outbound": {"destination_concurrency": 1}})
    spool = daemon.spool.resolve()
    trace_file = tmp_path / "trace"
    with attached_strace(daemon.process.pid, trace_file, "-e", "trace=openat"):
        queue_ids = submit_many(daemon.port(), [
            (SENDER, [RECIPIENT], simple_message(SENDER, [RECIPIENT], f"busy-{n}"))
            for n in range(BUSY_MESSAGES)])
        sink.wait_for_messages(BUSY_MESSAGES, timeout=20)
        for queue_id in queue_ids:
            daemon.wait_until_gone(queue_id)

    # One connection at a time: each message after the first found it busy and waited.
    times = sink.rcpt_times(RECIPIENT)
    assert len(times) == BUSY_MESSAGES
    assert all(later - earlier >= DATA_DELAY * 0.9 for earlier, later in zip(times, times[1:])), \
        f"deliveries overlapped: {times}"
    trace = trace_file.read_text(errors="replace")
    for queue_id in queue_ids:
        reads = [line for line in trace.splitlines()
                 if f'"{spool}/queue/{queue_id}"' in line and "O_RDONLY" in line]
        assert len(reads) == 1, f"{queue_id} opened {len(reads)} times to read:\n" + \
            "\n".join(reads)
