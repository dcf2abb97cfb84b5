"""SMTP smuggling (CVE-2023-51766 and friends): end-of-data look-alikes made of bare CR,
bare LF or NUL must not end the message; the text after them, written to look like a
second transaction, stays inside the one message, stored with CRLF line endings."""

from __future__ import annotations

import re

import pytest

from posthorn_harness import RawSmtp, messages_from

FAKE_ENDINGS = [
    b"\n.\n", b"\n.\r\n", b"\r.\n", b"\r.\r", b"\r.\r\n",
    b"\r\n.\n", b"\r\n.\r", b"\r\r\n.\r\r\n", b"\r\n\0.\r\n",
]

SMUGGLED = (b"MAIL FROM:<smuggled@evil>\r\n"
            b"RCPT TO:<victim@dest.example>\r\n"
            b"DATA\r\n"
            b"From: <ceo@dest.example>\r\n"
            b"Subject: smuggled\r\n"
            b"\r\n"
            b"smuggled body\r\n")

BARE_LINE_BREAK = re.compile(rb"(?<!\r)\n|\r(?!\n)")


@pytest.mark.parametrize("fake_ending", FAKE_ENDINGS, ids=repr)
def test_fake_end_of_data_does_not_end_the_message(daemon, fake_ending):
    sender = "honest@client.test"
    with RawSmtp(daemon.port()) as client:
        client.expect(None, 220)
        client.ehlo()
        client.expect(f"MAIL FROM:<{sender}>", 250)
        client.expect("RCPT TO:<reader@dest.example>", 250)
        client.expect("DATA", 354)
        client.send(b"From: <honest@client.test>\r\nSubject: honest\r\n\r\n"
                    b"honest text" + fake_ending + SMUGGLED + b"\r\n.\r\n")
        # Exactly one reply to the data: a second 250 (for a smuggled MAIL FROM) would
        # arrive before the reply to QUIT.
        accepted = client.read_reply()
        assert accepted.code == 250, accepted
        closing = client.command("QUIT")
        assert closing.code == 221, f"reply after the message was {closing}, not to QUIT"

    queue = daemon.queue()
    assert len(queue) == 1, queue
    assert messages_from(queue, "smuggled@evil") == []
    [message] = messages_from(queue, sender)
    assert [r["address"] for r in message["recipients"]] == ["reader@dest.example"]

    stored = daemon.stored_message(message["id"])
    body = stored.split(b"\r\n\r\n", 1)[1]
    assert b"honest text" in body
    assert b"MAIL FROM:<smuggled@evil>" in body, body
    assert b"smuggled body" in body, body
    assert BARE_LINE_BREAK.search(stored) is None, stored
