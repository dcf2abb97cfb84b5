"""A recipient that is only ever deferred: `queue.warn_after` sends the sender one
delay DSN and keeps trying; `queue.give_up_after` sends a failure DSN and removes the
message (SPEC 2 `[queue]`, issue 3)."""

from __future__ import annotations

import time

from dns_server import MX, A
from posthorn_harness import received_dsn, simple_message, submit

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
SINK = "127.0.0.3"
ALWAYS_LATER = "451 4.3.0 Not now, not ever"


def always_deferring_destination(dns_server, sink_factory):
    dns_server.set("dest.example", [MX(10, "mx.dest.example")])
    dns_server.set("mx.dest.example", [A(SINK)])
    sink = sink_factory(SINK)
    sink.reply_to_rcpt(RECIPIENT, ALWAYS_LATER)
    return sink


def test_give_up_after_sends_a_failure_dsn_and_removes_the_message(
        dns_server, sink_factory, sender_sink, delivery_daemon_factory):
    give_up_after = 4.0
    sink = always_deferring_destination(dns_server, sink_factory)
    daemon = delivery_daemon_factory({"queue": {"give_up_after": f"{give_up_after:.0f}s"}})

    submitted = time.monotonic()
    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], "expiring"))
    [bounce] = sender_sink.wait_for_messages(1, timeout=give_up_after + 10)
    assert time.monotonic() - submitted >= give_up_after * 0.9, "gave up before the deadline"
    report = received_dsn(bounce, SENDER)
    fields = report.recipient(RECIPIENT)
    assert fields["action"].lower() == "failed"
    assert "451" in fields.get("diagnostic-code", "") + report.text(), \
        "the DSN does not say what the remote server answered"
    assert b"Subject: expiring" in bounce.content, "the DSN does not identify the message"

    daemon.wait_until_gone(queue_id, timeout=5)
    assert sink.rcpt_attempts(RECIPIENT) >= 2, "never retried before giving up"
    assert sink.messages() == []


def test_warn_after_sends_one_delay_dsn_and_keeps_the_message(
        dns_server, sink_factory, sender_sink, delivery_daemon_factory):
    sink = always_deferring_destination(dns_server, sink_factory)
    daemon = delivery_daemon_factory({"queue": {"warn_after": "1s", "give_up_after": "1h"}})

    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], "delayed"))
    [warning] = sender_sink.wait_for_messages(1, timeout=10)
    fields = received_dsn(warning, SENDER).recipient(RECIPIENT)
    assert fields["action"].lower() == "delayed"
    assert fields["status"].startswith("4."), fields

    # Retries go on (retry_max is 2s) without another warning, and nothing is removed.
    attempts_at_warning = sink.rcpt_attempts(RECIPIENT)
    sink.wait_for_rcpt_attempts(RECIPIENT, attempts_at_warning + 1, timeout=5)
    state = daemon.wait_for_recipient(queue_id, RECIPIENT, "deferred")
    assert "451" in (state["last_error"] or ""), state
    assert len(sender_sink.messages()) == 1, "warned more than once"
