"""A broken STARTTLS never strands mail (issue 4, SPEC 4.2): after `220` and garbage,
`220` and a close, or a client certificate demanded, the daemon logs `verify=SOFTWARE`
with `action=plaintext`, reconnects and delivers without STARTTLS (`verify=CLEAR`,
`tls=none`); a `454` reply is `verify=PROTOCOL` and the mail goes in plaintext too."""

from __future__ import annotations

import pytest

from posthorn_harness import (simple_message, starttls_client_lines, submit,
                              wait_for_to_line)
from tls_peers import StartTls

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
PEER = "127.0.0.5"


def failure_lines(daemon, verify: str) -> list[dict[str, str]]:
    return [line for line in starttls_client_lines(daemon) if line.get("verify") == verify]


def assert_failure_logged(daemon, verify: str, action: str) -> None:
    [failure] = failure_lines(daemon, verify)
    assert failure["relay"].startswith("mx.dest.example"), failure
    assert failure.get("error", "").strip('"'), f"no error reason: {failure}"
    assert failure.get("action") == action, failure
    assert "version" not in failure, f"a failed handshake has no version: {failure}"


@pytest.mark.parametrize("mode, broken", [
    ("garbage", StartTls.GARBAGE_SENT),
    ("close", StartTls.CLOSED),
    ("demand_client_cert", StartTls.HANDSHAKE_FAILED),
])
def test_broken_handshake_is_followed_by_plaintext_delivery(
        dest_mx, broken_starttls_factory, tls_daemon_factory, mode, broken):
    dest_mx(PEER)
    peer = broken_starttls_factory(PEER, mode)
    daemon = tls_daemon_factory()

    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], f"fallback-{mode}"))
    [received] = peer.wait_for_messages(1, timeout=15)
    daemon.wait_until_gone(queue_id)

    first, second = peer.wait_for_connections(2)
    assert (first.starttls, first.messages) == (broken, 0), peer.describe()
    assert (second.starttls, second.messages) == (StartTls.NOT_ATTEMPTED, 1), peer.describe()
    assert len(peer.connections()) == 2, peer.describe()
    assert received.connection == second.index and received.tls_version is None
    assert b"Body of fallback-" in received.content

    assert_failure_logged(daemon, "SOFTWARE", "plaintext")
    sent = wait_for_to_line(daemon, queue_id, RECIPIENT, "Sent")
    assert (sent["dsn"], sent["tls"], sent["verify"]) == ("2.0.0", "none", "CLEAR"), sent
    assert sent["policy"] == "opportunistic", sent


def test_454_reply_to_starttls_is_followed_by_plaintext_delivery(
        dest_mx, broken_starttls_factory, tls_daemon_factory):
    dest_mx(PEER)
    peer = broken_starttls_factory(PEER, "refuse")
    daemon = tls_daemon_factory()

    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], "fallback-454"))
    [received] = peer.wait_for_messages(1, timeout=15)
    daemon.wait_until_gone(queue_id)

    # SPEC 4.2 says "reconnect"; carrying on over the refused connection is plaintext too.
    refused = [c for c in peer.connections() if c.starttls_attempted]
    assert [c.starttls for c in refused] == [StartTls.REFUSED], peer.describe()
    assert received.tls_version is None
    assert received.connection >= refused[0].index

    assert_failure_logged(daemon, "PROTOCOL", "plaintext")
    assert failure_lines(daemon, "SOFTWARE") == []
    sent = wait_for_to_line(daemon, queue_id, RECIPIENT, "Sent")
    assert (sent["dsn"], sent["tls"], sent["verify"]) == ("2.0.0", "none", "CLEAR"), sent
