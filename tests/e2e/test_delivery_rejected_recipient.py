"""One recipient refused with 550 and one accepted in the same transaction (issue 3):
the accepted one is delivered once, the refused one bounces with the remote reply and
is not retried."""

from __future__ import annotations

import re

from dns_server import MX, A
from posthorn_harness import received_dsn, simple_message, submit

SENDER = "alice@sender.example"
ACCEPTED = "bob@dest.example"
REFUSED = "carol@dest.example"
SINK = "127.0.0.3"
REMOTE_REPLY = "550 5.1.1 <carol@dest.example>: no such user here"


def test_refused_recipient_bounces_and_accepted_one_is_delivered_once(
        dns_server, sink_factory, sender_sink, delivery_daemon_factory):
    dns_server.set("dest.example", [MX(10, "mx.dest.example")])
    dns_server.set("mx.dest.example", [A(SINK)])
    sink = sink_factory(SINK)
    sink.reply_to_rcpt(REFUSED, REMOTE_REPLY)
    daemon = delivery_daemon_factory()

    recipients = [ACCEPTED, REFUSED]
    queue_id = submit(daemon.port(), SENDER, recipients,
                      simple_message(SENDER, recipients, "partial"))

    [bounce] = sender_sink.wait_for_messages(1)
    report = received_dsn(bounce, SENDER)
    fields = report.recipient(REFUSED)
    assert fields["action"].lower() == "failed"
    assert fields["status"] == "5.1.1"
    assert "no such user here" in fields.get("diagnostic-code", ""), fields
    assert fields["diagnostic-code"].replace(" ", "").startswith("smtp;550"), fields
    assert [f for f in report.recipients
            if ACCEPTED in f.get("final-recipient", "")] == [], "the delivered one bounced"

    daemon.wait_until_gone(queue_id)
    [delivered] = sink.messages()
    assert delivered.recipients == (ACCEPTED,)
    assert b"Body of partial." in delivered.content
    assert sink.rcpt_attempts(REFUSED) == 1, "a permanent refusal must not be retried"
    assert sink.rcpt_attempts(ACCEPTED) == 1
    daemon.wait_for_log(rf"{re.escape(queue_id)}: to=<{re.escape(REFUSED)}>, .*dsn=5\.1\.1, "
                        r"stat=.*no such user here")
    daemon.wait_for_log(rf"{re.escape(queue_id)}: to=<{re.escape(ACCEPTED)}>, .*dsn=2\.0\.0, "
                        r"stat=Sent \(250 ")
