"""Receiving plain SMTP: smtplib, swaks, swaks with PIPELINING; what gets queued,
stored and logged (SPEC sections 1, 5)."""

from __future__ import annotations

import re
import smtplib
import subprocess

from posthorn_harness import HOSTNAME, RawSmtp, make_message, messages_from


def first_header(message: bytes) -> str:
    """The first header field, unfolded."""
    folded = re.match(rb"[^\r\n]*(\r\n[ \t][^\r\n]*)*", message)
    assert folded is not None
    return re.sub(r"\r\n[ \t]+", " ", folded.group(0).decode("utf-8", errors="replace"))


def send(daemon, sender: str, recipients: list[str], message: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", daemon.port(), local_hostname="client.test",
                      timeout=10) as smtp:
        refused = smtp.sendmail(sender, recipients, message)
    assert refused == {}


def test_two_recipients_are_queued_with_envelope_received_header_and_log_line(daemon):
    sender = "alice@client.test"
    recipients = ["bob@dest.example", "carol@dest.example"]
    message = make_message(sender, recipients, "two recipients", "Hello Bob and Carol.\n",
                           "two-rcpt@client.test")
    send(daemon, sender, recipients, message)

    queue = daemon.queue()
    assert len(queue) == 1, queue
    queued = queue[0]
    assert queued["sender"] == sender
    assert queued["held"] is False
    assert sorted(r["address"] for r in queued["recipients"]) == recipients
    for recipient in queued["recipients"]:
        assert recipient["status"] in ("pending", "deferred"), recipient
    assert queued["size"] >= len(message)

    stored = daemon.stored_message(queued["id"])
    received = first_header(stored)
    # RFC 5321 4.4: FROM names the EHLO argument and the client's address, BY the server.
    assert re.match(r"Received: from client\.test\b.*\[?127\.0\.0\.1\]?.* by "
                    + re.escape(HOSTNAME) + r"\b", received), received
    # The server prepends trace headers and changes nothing in what the client sent.
    assert stored.endswith(message), stored

    logged = daemon.wait_for_log(
        rf"{re.escape(queued['id'])}: from=<{re.escape(sender)}>, size=(\d+), nrcpts=2, "
        rf"msgid=<two-rcpt@client\.test>, proto=ESMTP, relay=")
    assert int(logged.group(1)) == queued["size"]


def test_null_sender_is_queued_as_empty_string(daemon):
    message = make_message("mailer-daemon@client.test", ["bob@dest.example"], "bounce",
                           "A bounce.\n", "bounce@client.test")
    send(daemon, "<>", ["bob@dest.example"], message)
    queue = daemon.queue()
    assert [m["sender"] for m in queue] == [""]
    daemon.wait_for_log(rf"{re.escape(queue[0]['id'])}: from=<>, size=\d+, nrcpts=1, ")


def test_ehlo_offers_the_contracted_extensions(daemon):
    with smtplib.SMTP("127.0.0.1", daemon.port(), local_hostname="client.test",
                      timeout=10) as smtp:
        code, _ = smtp.ehlo()
        assert code == 250
        for keyword in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "smtputf8",
                        "dsn", "chunking", "starttls"):
            assert smtp.has_extn(keyword), (keyword, smtp.esmtp_features)
        assert smtp.esmtp_features["size"].isdigit()
        assert int(smtp.esmtp_features["size"]) > 0


def swaks(daemon, *extra: str, sender: str, recipient: str) -> None:
    command = ["swaks", "--server", f"127.0.0.1:{daemon.port()}", "--helo", "client.test",
               "--from", sender, "--to", recipient, "--header", "Subject: from swaks",
               "--body", "Sent by swaks.", "--timeout", "10", *extra]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_swaks_delivers(daemon):
    swaks(daemon, sender="swaks@client.test", recipient="dave@dest.example")
    [queued] = messages_from(daemon.queue(), "swaks@client.test")
    assert [r["address"] for r in queued["recipients"]] == ["dave@dest.example"]
    assert b"Sent by swaks." in daemon.stored_message(queued["id"])


def test_swaks_with_pipelining_delivers(daemon):
    # swaks exits non-zero when the server does not advertise PIPELINING.
    swaks(daemon, "--pipeline", sender="piped@client.test", recipient="erin@dest.example")
    [queued] = messages_from(daemon.queue(), "piped@client.test")
    assert [r["address"] for r in queued["recipients"]] == ["erin@dest.example"]


def test_pipelined_commands_get_replies_in_order(daemon):
    with RawSmtp(daemon.port()) as client:
        client.expect(None, 220)
        client.ehlo()
        body = make_message("pipe@client.test", ["frank@dest.example"], "pipelined", "Hi\n",
                            "pipelined@client.test")
        client.send(b"MAIL FROM:<pipe@client.test>\r\nRCPT TO:<frank@dest.example>\r\n"
                    b"RCPT TO:<gina@dest.example>\r\nDATA\r\n")
        assert [client.read_reply().code for _ in range(4)] == [250, 250, 250, 354]
        client.send(body + b".\r\n")
        assert client.read_reply().code == 250
        assert client.command("QUIT").code == 221
    [queued] = messages_from(daemon.queue(), "pipe@client.test")
    assert len(queued["recipients"]) == 2
