"""Several messages for one destination share connections (issue 3): ten messages
queued within a moment go out over fewer than ten SMTP sessions, each delivered once."""

from __future__ import annotations

from dns_server import MX, A
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
