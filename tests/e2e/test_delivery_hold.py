"""`queue hold` keeps a message from delivery even when the queue is flushed;
`queue release` hands it back to the running daemon (SPEC section 1)."""

from __future__ import annotations

import time

from dns_server import MX, A
from posthorn_harness import find_message, simple_message, submit

SENDER = "alice@sender.example"
SINK = "127.0.0.3"


def test_held_message_waits_until_released(dns_server, sink_factory, delivery_daemon_factory):
    sink = sink_factory(SINK)
    dns_server.set("dest.example", [MX(10, "mx.dest.example")])
    dns_server.set("mx.dest.example", [A(SINK)])
    dns_server.break_name("dest.example")
    daemon = delivery_daemon_factory()
    recipient = "bob@dest.example"
    queue_id = submit(daemon.port(), SENDER, [recipient],
                      simple_message(SENDER, [recipient], "held"))
    daemon.wait_for_recipient(queue_id, recipient, "deferred", attempts=1)

    daemon.cli("queue", "hold", queue_id)
    dns_server.repair_name("dest.example")
    daemon.cli("queue", "flush")
    time.sleep(1.5)
    assert sink.messages() == [], "a held message was delivered"
    held = find_message(daemon.queue(), queue_id)
    assert held is not None and held["held"] is True

    daemon.cli("queue", "release", queue_id)
    [received] = sink.wait_for_messages(1)
    assert received.recipients == (recipient,)
    daemon.wait_until_gone(queue_id)
