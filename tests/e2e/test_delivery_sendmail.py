"""The sendmail interface (SPEC 1): `posthorn sendmail -t -i` queues a message while
the daemon is down; the daemon delivers it once it starts, a lone "." line intact."""

from __future__ import annotations

from dns_server import MX, A

SINK = "127.0.0.3"
RECIPIENT = "bob@dest.example"

MESSAGE = b"""\
From: Alice <alice@sender.example>
To: Bob <bob@dest.example>
Subject: sent with sendmail -t -i
Message-ID: <sendmail-t-i@sender.example>

The next line is a lone dot; with -i it does not end the message.
.
This line comes after the dot.
"""


def test_sendmail_queues_while_the_daemon_is_down_and_the_daemon_delivers(
        dns_server, sink_factory, delivery_daemon_factory):
    dns_server.set("dest.example", [MX(10, "mx.dest.example")])
    dns_server.set("mx.dest.example", [A(SINK)])
    sink = sink_factory(SINK)
    daemon = delivery_daemon_factory(start=False)

    result = daemon.sendmail("-t", "-i", stdin=MESSAGE)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    [queued] = daemon.queue()
    assert [r["address"] for r in queued["recipients"]] == [RECIPIENT]  # from To:, by -t
    assert sink.connections() == []

    daemon.start()
    [received] = sink.wait_for_messages(1, timeout=15)
    assert received.recipients == (RECIPIENT,)
    lines = received.content.split(b"\r\n")
    assert b"Subject: sent with sendmail -t -i" in lines
    dot = lines.index(b".")
    assert lines[dot - 1].startswith(b"The next line is a lone dot")
    assert lines[dot + 1] == b"This line comes after the dot."
    daemon.wait_until_gone(queued["id"])
