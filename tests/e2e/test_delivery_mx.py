"""Delivery by MX (SPEC 2 `[dns]`, issue 3): preference order, a dead preferred MX
falls through to the next, A fallback without MX, null MX and NXDOMAIN bounce at once,
SERVFAIL keeps the message queued until DNS answers."""

from __future__ import annotations

import re

from dns_server import MX, A
from posthorn_harness import received_dsn, simple_message, submit

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
SINK = "127.0.0.3"
OTHER_SINK = "127.0.0.4"
DEAD = "127.0.0.5"  # nothing listens there
FALLBACK = "127.0.0.6"


def send(daemon, recipient: str, tag: str) -> str:
    return submit(daemon.port(), SENDER, [recipient], simple_message(SENDER, [recipient], tag))


def test_lowest_preference_is_tried_first(dns_server, sink_factory,
                                          delivery_daemon_factory):
    dns_server.set("dest.example", [MX(20, "mx2.dest.example"), MX(10, "mx1.dest.example")])
    dns_server.set("mx1.dest.example", [A(SINK)])
    dns_server.set("mx2.dest.example", [A(OTHER_SINK)])
    preferred, other = sink_factory(SINK), sink_factory(OTHER_SINK)
    daemon = delivery_daemon_factory()

    queue_id = send(daemon, RECIPIENT, "preference")
    [received] = preferred.wait_for_messages(1)
    assert received.recipients == (RECIPIENT,) and b"Body of preference." in received.content
    daemon.wait_until_gone(queue_id)
    assert other.messages() == [] and other.connections() == []
    assert ("dest.example", "MX") in [(q.name, q.qtype) for q in dns_server.queries()]


def test_dead_preferred_mx_falls_through_to_the_next(dns_server, sink_factory,
                                                     delivery_daemon_factory):
    dns_server.set("dest.example", [MX(10, "mx1.dest.example"), MX(20, "mx2.dest.example")])
    dns_server.set("mx1.dest.example", [A(DEAD)])
    dns_server.set("mx2.dest.example", [A(SINK)])
    sink = sink_factory(SINK)
    daemon = delivery_daemon_factory()

    queue_id = send(daemon, RECIPIENT, "fall-through")
    [received] = sink.wait_for_messages(1)
    assert received.recipients == (RECIPIENT,)
    daemon.wait_until_gone(queue_id)
    daemon.wait_for_log(rf"{re.escape(queue_id)}: to=<{re.escape(RECIPIENT)}>, .*"
                        r"relay=mx2\.dest\.example\.? \[127\.0\.0\.3\], .*stat=Sent")


def test_a_record_is_used_when_there_is_no_mx(dns_server, sink_factory,
                                              delivery_daemon_factory):
    dns_server.set("dest.example", [A(FALLBACK)])  # NOERROR, no MX: RFC 5321 5.1
    sink = sink_factory(FALLBACK)
    daemon = delivery_daemon_factory()

    queue_id = send(daemon, RECIPIENT, "a-fallback")
    [received] = sink.wait_for_messages(1)
    assert received.recipients == (RECIPIENT,)
    daemon.wait_until_gone(queue_id)
    daemon.wait_for_log(rf"{re.escape(queue_id)}: to=<{re.escape(RECIPIENT)}>, .*"
                        r"relay=dest\.example\.? \[127\.0\.0\.6\], .*stat=Sent")


def test_null_mx_bounces_at_once_without_trying_the_a_record(
        dns_server, sink_factory, sender_sink, delivery_daemon_factory):
    # RFC 7505: a null MX says the domain takes no mail; its A record must not be used.
    dns_server.set("dest.example", [MX(0, "."), A(SINK)])
    sink = sink_factory(SINK)
    daemon = delivery_daemon_factory()  # give_up_after stays at its default of days

    queue_id = send(daemon, RECIPIENT, "null-mx")
    [bounce] = sender_sink.wait_for_messages(1)
    report = received_dsn(bounce, SENDER)
    fields = report.recipient(RECIPIENT)
    assert fields["action"].lower() == "failed"
    assert fields["status"] == "5.1.10"
    daemon.wait_until_gone(queue_id)
    assert sink.messages() == [] and sink.connections() == []


def test_nxdomain_bounces_at_once(dns_server, sender_sink, delivery_daemon_factory):
    recipient = "bob@nowhere.example"  # inside the zone, unknown: NXDOMAIN
    daemon = delivery_daemon_factory()

    queue_id = send(daemon, recipient, "nxdomain")
    [bounce] = sender_sink.wait_for_messages(1)
    fields = received_dsn(bounce, SENDER).recipient(recipient)
    assert fields["action"].lower() == "failed"
    assert fields["status"].startswith("5.")
    daemon.wait_until_gone(queue_id)
    assert "nowhere.example" in [q.name for q in dns_server.queries()]


def test_servfail_keeps_the_message_queued_until_dns_answers(
        dns_server, sink_factory, sender_sink, delivery_daemon_factory):
    recipient = "bob@broken.example"
    dns_server.set("broken.example", [MX(10, "mx.broken.example")])
    dns_server.set("mx.broken.example", [A(SINK)])
    dns_server.break_name("broken.example")
    sink = sink_factory(SINK)
    daemon = delivery_daemon_factory()

    queue_id = send(daemon, recipient, "servfail")
    state = daemon.wait_for_recipient(queue_id, recipient, "deferred", attempts=2)
    assert state["last_error"], state
    assert [q.name for q in dns_server.queries()].count("broken.example") >= 2
    assert sink.messages() == []
    assert sender_sink.messages() == [], "a temporary DNS failure must not bounce"

    dns_server.repair_name("broken.example")
    [received] = sink.wait_for_messages(1)
    assert received.recipients == (recipient,)
    daemon.wait_until_gone(queue_id)
    assert sender_sink.messages() == []
