"""Limits: message size (552 5.3.4) and recipients per message (452 4.5.3)."""

from __future__ import annotations

import smtplib

from posthorn_harness import make_message, messages_from

SMALL = {"limits": {"message_size": "10KB"}}


def connect(daemon) -> smtplib.SMTP:
    smtp = smtplib.SMTP("127.0.0.1", daemon.port(), local_hostname="client.test", timeout=10)
    smtp.ehlo()
    return smtp


def test_size_limit_is_advertised(daemon_factory):
    daemon = daemon_factory(config=SMALL)
    with connect(daemon) as smtp:
        # 10KB: 10,000 or 10,240 bytes, whichever convention; nothing else.
        assert int(smtp.esmtp_features["size"]) in (10_000, 10_240), smtp.esmtp_features


def test_declared_size_over_the_limit_is_refused_at_mail(daemon_factory):
    daemon = daemon_factory(config=SMALL)
    with connect(daemon) as smtp:
        code, reply = smtp.mail("big@client.test", options=["SIZE=20000"])
        assert code == 552 and reply.startswith(b"5.3.4"), (code, reply)
        code, reply = smtp.mail("small@client.test", options=["SIZE=2000"])
        assert code == 250, (code, reply)


def test_oversized_body_is_refused_after_data(daemon_factory):
    daemon = daemon_factory(config=SMALL)
    sender = "big@client.test"
    message = make_message(sender, ["bob@dest.example"], "too big", "x" * 70 + "\n", "big@x")
    message += (b"y" * 70 + b"\r\n") * 400  # about 28 KB
    with connect(daemon) as smtp:
        assert smtp.mail(sender)[0] == 250
        assert smtp.rcpt("bob@dest.example")[0] == 250
        code, reply = smtp.data(message)  # smtplib returns, not raises, the final reply
        assert code == 552 and reply.startswith(b"5.3.4"), (code, reply)
        # The session goes on after the refusal.
        assert smtp.noop()[0] == 250
    assert messages_from(daemon.queue(), sender) == []


def test_message_under_the_limit_passes(daemon_factory):
    daemon = daemon_factory(config=SMALL)
    sender = "fits@client.test"
    message = make_message(sender, ["bob@dest.example"], "fits", ("z" * 76 + "\n") * 50, "fits@x")
    with connect(daemon) as smtp:
        assert smtp.sendmail(sender, ["bob@dest.example"], message) == {}
    assert len(messages_from(daemon.queue(), sender)) == 1


def test_recipients_over_the_limit_are_deferred_and_the_rest_queued(daemon_factory):
    daemon = daemon_factory(config={"limits": {"recipients": 3}})
    sender = "many@client.test"
    recipients = [f"r{n}@dest.example" for n in range(1, 5)]
    with connect(daemon) as smtp:
        assert smtp.mail(sender)[0] == 250
        replies = [smtp.rcpt(recipient) for recipient in recipients]
        assert [code for code, _ in replies[:3]] == [250, 250, 250], replies
        code, text = replies[3]
        assert code == 452 and text.startswith(b"4.5.3"), replies[3]
        message = make_message(sender, recipients[:3], "three", "Three of four.\n", "3@x")
        code, reply = smtp.data(message)
        assert code == 250, reply
    [queued] = messages_from(daemon.queue(), sender)
    assert sorted(r["address"] for r in queued["recipients"]) == recipients[:3]
