"""The remote-peer fixtures work on their own, driven by plain `smtplib`: what the
sink records and how it can be told to answer, STARTTLS into it, and Postfix as a real
MX with STARTTLS and Maildir delivery."""

from __future__ import annotations

import smtplib
import ssl

import pytest
from dnslib import DNSRecord

from peers import PeerError
from posthorn_harness import make_message

SENDER = "alice@sender.example"


def trusting(certs) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certs.ca))


def connect(sink) -> smtplib.SMTP:
    return smtplib.SMTP(sink.host, sink.port, local_hostname="client.test", timeout=10)


def test_sink_records_envelope_exact_content_and_connections(sink_factory):
    sink = sink_factory("127.0.0.3")
    first = make_message(SENDER, ["bob@dest.example"], "one", "line\n.\n..two dots\nend\n",
                         "one@sender.example")
    second = make_message(SENDER, ["carol@dest.example"], "two", "second\n",
                          "two@sender.example")
    with connect(sink) as smtp:
        assert smtp.sendmail(SENDER, ["bob@dest.example", "dave@dest.example"], first) == {}
        assert smtp.sendmail(SENDER, ["carol@dest.example"], second) == {}
    with connect(sink) as smtp:
        assert smtp.sendmail("", ["bob@dest.example"], second) == {}

    received = sink.wait_for_messages(3, timeout=5)
    assert [(m.sender, m.recipients, m.connection) for m in received] == [
        (SENDER, ("bob@dest.example", "dave@dest.example"), 0),
        (SENDER, ("carol@dest.example",), 0),
        ("", ("bob@dest.example",), 1),
    ]
    assert first.endswith(b"\r\n") and received[0].content == first
    assert b"\r\n.\r\n..two dots\r\n" in received[0].content  # dot-unstuffed once
    assert all(m.tls_version is None for m in received)
    # The controller's own start-up probe never says EHLO and is not a connection.
    assert [(c.index, c.helo, c.messages) for c in sink.connections()] == [
        (0, "client.test", 2), (1, "client.test", 1)]


def test_sink_rejects_and_defers_recipients_as_told(sink_factory):
    sink = sink_factory("127.0.0.3")
    sink.reply_to_rcpt("carol@dest.example", "550 5.1.1 No such user")
    sink.reply_to_rcpt("bob@dest.example", "451 4.3.0 Try again later", times=2)
    message = make_message(SENDER, ["bob@dest.example"], "retry", "body\n", "r@sender.example")
    for attempt in (1, 2):
        with connect(sink) as smtp:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                smtp.sendmail(SENDER, ["bob@dest.example", "carol@dest.example"], message)
        assert refused.value.recipients == {
            "bob@dest.example": (451, b"4.3.0 Try again later"),
            "carol@dest.example": (550, b"5.1.1 No such user")}, attempt
    with connect(sink) as smtp:
        refusals = smtp.sendmail(SENDER, ["bob@dest.example", "carol@dest.example"], message)
    assert refusals == {"carol@dest.example": (550, b"5.1.1 No such user")}
    [delivered] = sink.wait_for_messages(1, timeout=5)
    assert delivered.recipients == ("bob@dest.example",)
    assert sink.rcpt_attempts("bob@dest.example") == 3
    assert sink.rcpt_attempts("carol@dest.example") == 3
    times = sink.rcpt_times("bob@dest.example")
    assert times == sorted(times)


def test_sink_can_answer_everyone_and_the_end_of_data(sink_factory):
    sink = sink_factory("127.0.0.3")
    sink.reply_to_rcpt("*", "452 4.2.2 Mailbox full", times=1)
    sink.reply_to_data("554 5.6.0 Content rejected", times=1)
    message = make_message(SENDER, ["x@dest.example"], "data", "body\n", "d@sender.example")
    with connect(sink) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail(SENDER, ["x@dest.example"], message)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.sendmail(SENDER, ["x@dest.example"], message)
        assert refused.value.smtp_code == 554
        assert smtp.sendmail(SENDER, ["x@dest.example"], message) == {}
    assert len(sink.wait_for_messages(1, timeout=5)) == 1
    with pytest.raises(PeerError):
        sink.wait_for_messages(2, timeout=0.3)


def test_sinks_share_a_port_on_different_loopback_addresses(sink_factory, mx_port):
    first, second = sink_factory("127.0.0.3"), sink_factory("127.0.0.4")
    assert first.port == second.port == mx_port
    message = make_message(SENDER, ["bob@dest.example"], "where", "body\n", "w@sender.example")
    with connect(second) as smtp:
        smtp.sendmail(SENDER, ["bob@dest.example"], message)
    assert len(second.wait_for_messages(1, timeout=5)) == 1
    assert first.messages() == [] and first.connections() == []


def test_sink_with_starttls(sink_factory, certs):
    sink = sink_factory("127.0.0.1", tls_certificate=certs.certificate,
                        tls_private_key=certs.private_key)
    message = make_message(SENDER, ["bob@dest.example"], "tls", "secret\n", "t@sender.example")
    with connect(sink) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        smtp.starttls(context=trusting(certs))
        assert smtp.sendmail(SENDER, ["bob@dest.example"], message) == {}
    [received] = sink.wait_for_messages(1, timeout=5)
    assert received.tls_version == "TLSv1.3"
    assert [c.tls_version for c in sink.connections()] == ["TLSv1.3"]


def test_postfix_takes_mail_over_starttls_into_its_maildir(postfix_factory, certs):
    postfix = postfix_factory("127.0.0.7", mailboxes=("bob",))
    message = make_message(SENDER, ["bob@dest.example"], "to postfix", "Hello Postfix.\n",
                           "pf@sender.example")
    with smtplib.SMTP(postfix.host, postfix.port, local_hostname="client.test",
                      timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        chain_only = trusting(certs)  # the test certificate names localhost, not .7
        chain_only.check_hostname = False
        smtp.starttls(context=chain_only)
        assert smtp.sock.version() in ("TLSv1.3", "TLSv1.2")
        smtp.ehlo()
        refusals = smtp.sendmail(SENDER, ["bob@dest.example", "nobody@dest.example"], message)
    assert refusals["nobody@dest.example"][0] == 550
    [delivered] = postfix.wait_for_delivery("bob", 1)
    assert b"Subject: to postfix" in delivered and b"Hello Postfix." in delivered
    assert b"with ESMTPS" in delivered  # Postfix's own Received: line says TLS
    assert postfix.delivered("nobody") == []
    assert "TLS connection established from localhost[127.0.0.1]" in postfix.log()
    assert "to=<bob@dest.example>, relay=virtual" in postfix.log()


def test_sender_sink_is_the_mx_of_the_sender_domain(sender_sink, dns_server):
    mx = DNSRecord.parse(DNSRecord.question("sender.example", "MX").send(
        "127.0.0.1", dns_server.port, timeout=5))
    [exchange] = [str(rr.rdata.label) for rr in mx.rr]
    address = DNSRecord.parse(DNSRecord.question(exchange, "A").send(
        "127.0.0.1", dns_server.port, timeout=5))
    [host] = [str(rr.rdata) for rr in address.rr]
    assert (host, sender_sink.host) == ("127.0.0.2", "127.0.0.2")
    dsn_like = make_message("", [SENDER], "bounce", "body\n", "b@posthorn.test")
    with smtplib.SMTP(host, sender_sink.port, local_hostname="posthorn.test",
                      timeout=10) as smtp:
        assert smtp.sendmail("<>", [SENDER], dsn_like) == {}
    [received] = sender_sink.wait_for_messages(1, timeout=5)
    assert (received.sender, received.recipients) == ("", (SENDER,))
