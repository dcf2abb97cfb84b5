"""The outbound TLS fixtures work on their own, driven by plain `smtplib` and `ssl`:
each STARTTLS fault breaks a real TLS client the way it claims to and is recorded, a
session without STARTTLS still delivers in plaintext, and `TlsPeer` verifies (or not)
as its certificate says and records the client certificate it got."""

from __future__ import annotations

import smtplib
import socket
import ssl
import time

import pytest

from peers import PeerError
from posthorn_harness import make_message
from tls_peers import REUSE_WINDOW, PresentedCertificate, StartTls

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
PEER = "127.0.0.5"
# What a TLS client sees when STARTTLS breaks: an SSL error, a reset or a closed session.
BROKEN = (ssl.SSLError, OSError, smtplib.SMTPServerDisconnected)


class SmtpToName(smtplib.SMTP):
    """smtplib to a loopback address, with `name` as SNI and the name to verify
    (smtplib uses the host it connected to)."""

    def __init__(self, address: str, port: int, name: str):
        self._address = address
        super().__init__(name, port, local_hostname="client.test", timeout=10)

    def _get_socket(self, host, port, timeout):
        return socket.create_connection((self._address, port), timeout)


def connect(peer) -> SmtpToName:
    return SmtpToName(peer.host, peer.port, "mx.dest.example")


def message(tag: str) -> bytes:
    return make_message(SENDER, [RECIPIENT], tag, f"Body of {tag}.\n..dot\n", f"{tag}@x")


def verifying(tls_certs) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_certs.ca))


def not_verifying() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def with_client_certificate(tls_certs) -> ssl.SSLContext:
    context = not_verifying()
    context.load_cert_chain(str(tls_certs.client_certificate), str(tls_certs.client_key))
    return context


def send_plaintext(peer, tag: str) -> None:
    with connect(peer) as smtp:
        smtp.ehlo()
        assert smtp.sendmail(SENDER, [RECIPIENT], message(tag)) == {}


def assert_plaintext_delivery_after(peer, broken: StartTls) -> None:
    """Connection 0 broke STARTTLS as `broken`; connection 1 carried the message."""
    send_plaintext(peer, "after")
    [received] = peer.wait_for_messages(1, timeout=5)
    first, second = peer.wait_for_connections(2, timeout=5)
    assert (first.starttls, first.messages) == (broken, 0), peer.describe()
    assert (second.starttls, second.messages, second.tls_version) == (
        StartTls.NOT_ATTEMPTED, 1, None), peer.describe()
    assert received.connection == 1 and received.tls_version is None
    assert (received.sender, received.recipients) == (SENDER, (RECIPIENT,))
    assert received.content == message("after")  # dot-unstuffed once, CRLFs kept


@pytest.mark.parametrize("mode, broken", [("garbage", StartTls.GARBAGE_SENT),
                                          ("close", StartTls.CLOSED)])
def test_220_then_garbage_or_close_breaks_the_handshake(broken_starttls_factory, mode,
                                                        broken):
    peer = broken_starttls_factory(PEER, mode)
    with connect(peer) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        with pytest.raises(BROKEN):
            smtp.starttls(context=not_verifying())
    assert_plaintext_delivery_after(peer, broken)


def test_454_refuses_and_the_session_goes_on_in_plaintext(broken_starttls_factory):
    peer = broken_starttls_factory(PEER, "refuse")
    with connect(peer) as smtp:
        smtp.ehlo()
        with pytest.raises(smtplib.SMTPResponseException) as refused:
            smtp.starttls(context=not_verifying())
        assert (refused.value.smtp_code, refused.value.smtp_error) == (
            454, b"4.7.0 TLS not available")
        assert smtp.sendmail(SENDER, [RECIPIENT], message("same")) == {}
    [received] = peer.wait_for_messages(1, timeout=5)
    [connection] = peer.wait_for_connections(1, timeout=5)
    assert (connection.starttls, connection.messages) == (StartTls.REFUSED, 1)
    assert received.tls_version is None


@pytest.mark.parametrize("client_certificate", [False, True])
def test_client_certificate_demand_fails_only_after_the_client_handshake(
        broken_starttls_factory, tls_certs, client_certificate):
    """TLS 1.3: the client's handshake completes; the server's alert arrives at the
    client's next read (the EHLO reply). A certificate from another CA fails too."""
    peer = broken_starttls_factory(PEER, "demand_client_cert")
    context = with_client_certificate(tls_certs) if client_certificate else not_verifying()
    with connect(peer) as smtp:
        smtp.ehlo()
        code, _ = smtp.starttls(context=context)
        assert code == 220 and smtp.sock.version() == "TLSv1.3"
        with pytest.raises(BROKEN) as failure:
            smtp.ehlo()
    assert "alert" in str(failure.value).lower(), failure.value
    [connection] = peer.wait_for_connections(1, timeout=5)
    assert connection.starttls is StartTls.HANDSHAKE_FAILED, peer.describe()
    assert "certificate" in (connection.tls_error or "").lower(), connection.tls_error
    assert_plaintext_delivery_after(peer, StartTls.HANDSHAKE_FAILED)


def test_starttls_can_be_left_unoffered(broken_starttls_factory):
    peer = broken_starttls_factory(PEER, "garbage", offer_starttls=False)
    with connect(peer) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("starttls")
        assert smtp.docmd("STARTTLS")[0] == 502
        assert smtp.sendmail(SENDER, [RECIPIENT], message("unoffered")) == {}
    peer.wait_for_messages(1, timeout=5)
    [connection] = peer.wait_for_connections(1, timeout=5)
    assert (connection.starttls, connection.messages) == (StartTls.NOT_OFFERED, 1)


def test_tls_peer_with_the_ca_signed_certificate_verifies(tls_peer_factory, tls_certs):
    peer = tls_peer_factory(PEER)
    with connect(peer) as smtp:
        smtp.ehlo()
        smtp.starttls(context=verifying(tls_certs))  # chain and mx.dest.example
        smtp.ehlo()
        assert not smtp.has_extn("starttls")
        assert smtp.sendmail(SENDER, [RECIPIENT], message("tls")) == {}
    [received] = peer.wait_for_messages(1, timeout=5)
    [connection] = peer.wait_for_connections(1, timeout=5)
    assert (connection.starttls, connection.tls_version) == (StartTls.ESTABLISHED, "TLSv1.3")
    assert connection.client_certificate is None
    assert received.tls_version == "TLSv1.3"


def test_tls_peer_with_the_self_signed_certificate_does_not(tls_peer_factory, tls_certs):
    peer = tls_peer_factory(PEER, trusted=False)
    with connect(peer) as smtp:
        smtp.ehlo()
        with pytest.raises(ssl.SSLCertVerificationError):
            smtp.starttls(context=verifying(tls_certs))
    with connect(peer) as smtp:
        smtp.ehlo()
        smtp.starttls(context=not_verifying())
        smtp.ehlo()
        assert smtp.sendmail(SENDER, [RECIPIENT], message("unverified")) == {}
    assert peer.wait_for_messages(1, timeout=5)[0].tls_version == "TLSv1.3"
    first, second = peer.wait_for_connections(2, timeout=5)
    assert first.starttls is StartTls.HANDSHAKE_FAILED
    assert second.starttls is StartTls.ESTABLISHED


def test_tls_peer_records_the_client_certificate_or_none(tls_peer_factory, tls_certs):
    peer = tls_peer_factory(PEER, request_client_cert=True)
    for context in (with_client_certificate(tls_certs), not_verifying()):
        with connect(peer) as smtp:
            smtp.ehlo()
            smtp.starttls(context=context)
            smtp.ehlo()
            assert smtp.sendmail(SENDER, [RECIPIENT], message("cert")) == {}
    peer.wait_for_messages(2, timeout=5)
    with_cert, without = peer.wait_for_connections(2, timeout=5)
    assert with_cert.client_certificate == PresentedCertificate(
        "posthorn.test", ("posthorn.test",))
    assert without.client_certificate is None
    assert without.starttls is StartTls.ESTABLISHED


def test_an_idle_connection_is_closed_after_a_message(tls_peer_factory):
    """So the daemon's connection cache cannot carry the next test message."""
    peer = tls_peer_factory(PEER)
    with connect(peer) as smtp:
        smtp.ehlo()
        assert smtp.sendmail(SENDER, [RECIPIENT], message("one")) == {}
        time.sleep(REUSE_WINDOW + 0.5)
        with pytest.raises((smtplib.SMTPServerDisconnected, OSError)):
            smtp.sendmail(SENDER, [RECIPIENT], message("two"))
    [connection] = peer.wait_for_connections(1, timeout=5)
    assert connection.closed and connection.messages == 1
    with pytest.raises(PeerError):
        peer.wait_for_messages(2, timeout=0.3)
