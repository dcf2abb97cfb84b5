"""A temporary refusal (451) defers the recipient; it is retried after `queue.retry_min`
and delivered on the second attempt (issue 3, SPEC 5: one log line per attempt)."""

from __future__ import annotations

import re

from dns_server import MX, A
from posthorn_harness import simple_message, submit

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
SINK = "127.0.0.3"
RETRY_MIN = 2.0  # long enough to see the deferred state in `queue list` before the retry


def test_451_then_accepted_on_the_retry(dns_server, sink_factory, sender_sink,
                                        delivery_daemon_factory):
    dns_server.set("dest.example", [MX(10, "mx.dest.example")])
    dns_server.set("mx.dest.example", [A(SINK)])
    sink = sink_factory(SINK)
    sink.reply_to_rcpt(RECIPIENT, "451 4.3.0 Greylisted, come back later", times=1)
    daemon = delivery_daemon_factory(
        {"queue": {"retry_min": f"{RETRY_MIN:.0f}s", "retry_max": "4s"}})

    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], "greylisted"))
    deferred = daemon.wait_for_recipient(queue_id, RECIPIENT, "deferred", attempts=1,
                                         timeout=RETRY_MIN + 1)
    assert deferred["attempts"] == 1
    assert "451" in (deferred["last_error"] or ""), deferred

    [received] = sink.wait_for_messages(1, timeout=10)
    assert received.recipients == (RECIPIENT,)
    assert b"Body of greylisted." in received.content
    first, second = sink.rcpt_times(RECIPIENT)
    assert second - first >= RETRY_MIN * 0.75, "retried before queue.retry_min"
    daemon.wait_until_gone(queue_id)
    assert sender_sink.messages() == [], "a delivered message must not bounce"

    attempts = daemon.log_matching(rf"{re.escape(queue_id)}: to=<{re.escape(RECIPIENT)}>, "
                                   r".*dsn=([\d.]+), stat=(\w+)")
    assert [(m.group(1), m.group(2)) for m in attempts] == [("4.3.0", "Deferred"),
                                                            ("2.0.0", "Sent")]
