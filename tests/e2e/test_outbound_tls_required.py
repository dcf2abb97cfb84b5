"""When policy requires TLS there is no plaintext fallback (SPEC 4): `TLS_Srv` and
`TLS_Rcpt` requirements and `starttls = "required"|"verified"` defer with 4.7.x when
they are not met, over several attempts, and deliver when they are (`verify=OK`)."""

from __future__ import annotations

import pytest

from posthorn_harness import simple_message, submit, to_lines, wait_for_to_line
from tls_peers import StartTls

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
PEER = "127.0.0.5"
ACCESS = "# TLS requirements\nTLS_Srv:other.example\tVERIFY\n{entry}\n"  # entry: line 3


def assert_never_delivered(daemon, peer, tag: str, policy: str) -> None:
    """Submits a message and sees it deferred with 4.7.x twice, nothing delivered."""
    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], tag))
    deferred = daemon.wait_for_recipient(queue_id, RECIPIENT, "deferred", attempts=2)
    assert "4.7." in (deferred.get("last_error") or ""), deferred
    assert peer.messages() == [], peer.describe()
    assert all(c.messages == 0 for c in peer.connections()), peer.describe()
    wait_for_to_line(daemon, queue_id, RECIPIENT, "Deferred")
    attempts = to_lines(daemon, queue_id, RECIPIENT)
    assert all(line["dsn"].startswith("4.7.") for line in attempts), attempts
    assert all(line["policy"] == policy for line in attempts), attempts


def assert_delivered_verified(daemon, peer, tag: str, policy: str) -> None:
    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], tag))
    [received] = peer.wait_for_messages(1, timeout=15)
    assert received.tls_version == "TLSv1.3"
    sent = wait_for_to_line(daemon, queue_id, RECIPIENT, "Sent")
    assert (sent["tls"], sent["verify"], sent["policy"]) == ("TLSv1.3", "OK", policy), sent


def test_tls_srv_verify_defers_an_untrusted_certificate(
        dest_mx, tls_peer_factory, tls_daemon_factory):
    dest_mx(PEER)
    peer = tls_peer_factory(PEER, trusted=False)
    daemon = tls_daemon_factory(access=ACCESS.format(entry="TLS_Srv:mx.dest.example VERIFY"))
    assert_never_delivered(daemon, peer, "tls-srv-untrusted", "tls_srv:access:3")
    assert all(c.starttls_attempted for c in peer.connections()), peer.describe()


def test_tls_srv_verify_delivers_to_a_trusted_certificate(
        dest_mx, tls_peer_factory, tls_daemon_factory):
    dest_mx(PEER)
    peer = tls_peer_factory(PEER)
    daemon = tls_daemon_factory(access=ACCESS.format(entry="TLS_Srv:mx.dest.example VERIFY"))
    assert_delivered_verified(daemon, peer, "tls-srv-trusted", "tls_srv:access:3")


@pytest.mark.parametrize("trusted", [True, False])
def test_tls_rcpt_verify_by_recipient_domain(dest_mx, tls_peer_factory, tls_daemon_factory,
                                             trusted):
    dest_mx(PEER)
    peer = tls_peer_factory(PEER, trusted=trusted)
    daemon = tls_daemon_factory(access=ACCESS.format(entry="TLS_Rcpt:dest.example VERIFY"))
    if trusted:
        assert_delivered_verified(daemon, peer, "tls-rcpt-trusted", "tls_rcpt:access:3")
    else:
        assert_never_delivered(daemon, peer, "tls-rcpt-untrusted", "tls_rcpt:access:3")


def test_required_defers_a_server_without_starttls(
        dest_mx, broken_starttls_factory, tls_daemon_factory):
    dest_mx(PEER)
    peer = broken_starttls_factory(PEER, "garbage", offer_starttls=False)
    daemon = tls_daemon_factory({"outbound": {"starttls": "required"}})
    assert_never_delivered(daemon, peer, "required-no-starttls", "required")
    assert len(peer.connections()) >= 2, peer.describe()


def test_required_defers_a_broken_handshake_without_plaintext_fallback(
        dest_mx, broken_starttls_factory, tls_daemon_factory):
    dest_mx(PEER)
    peer = broken_starttls_factory(PEER, "garbage")
    daemon = tls_daemon_factory({"outbound": {"starttls": "required"}})
    assert_never_delivered(daemon, peer, "required-broken", "required")
    assert all(c.starttls is StartTls.GARBAGE_SENT for c in peer.connections()), \
        peer.describe()


@pytest.mark.parametrize("trusted", [True, False])
def test_verified_mode(dest_mx, tls_peer_factory, tls_daemon_factory, trusted):
    dest_mx(PEER)
    peer = tls_peer_factory(PEER, trusted=trusted)
    daemon = tls_daemon_factory({"outbound": {"starttls": "verified"}})
    if trusted:
        assert_delivered_verified(daemon, peer, "verified-trusted", "verified")
    else:
        assert_never_delivered(daemon, peer, "verified-untrusted", "verified")
