"""Certificate verification in opportunistic mode (SPEC 4.3): an untrusted (self-signed)
certificate still carries the mail over TLS and is logged `verify=FAIL`; a certificate
from the CA in `tls.ca_bundle` naming the MX host is `verify=OK`."""

from __future__ import annotations

import re

import pytest

from posthorn_harness import (simple_message, starttls_client_lines, submit,
                              wait_for_to_line)
from tls_peers import StartTls

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
PEER = "127.0.0.5"


@pytest.mark.parametrize("trusted, verify", [(False, "FAIL"), (True, "OK")])
def test_delivered_over_tls_with_the_verify_result(
        dest_mx, tls_peer_factory, tls_daemon_factory, trusted, verify):
    dest_mx(PEER)
    peer = tls_peer_factory(PEER, trusted=trusted)
    daemon = tls_daemon_factory()

    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], f"verify-{verify}"))
    [received] = peer.wait_for_messages(1, timeout=15)
    daemon.wait_until_gone(queue_id)

    [connection] = peer.wait_for_connections(1)
    assert (connection.starttls, connection.tls_version) == (
        StartTls.ESTABLISHED, "TLSv1.3"), peer.describe()
    assert received.tls_version == "TLSv1.3"

    [handshake] = [line for line in starttls_client_lines(daemon) if "version" in line]
    assert handshake["relay"].startswith("mx.dest.example"), handshake
    assert (handshake["version"], handshake["verify"]) == ("TLSv1.3", verify), handshake
    assert re.fullmatch(r"(\d+)/\1", handshake["bits"]), handshake
    assert not [line for line in starttls_client_lines(daemon)
                if line.get("verify") in ("SOFTWARE", "PROTOCOL", "CLEAR")]
    sent = wait_for_to_line(daemon, queue_id, RECIPIENT, "Sent")
    assert (sent["tls"], sent["verify"], sent["policy"]) == (
        "TLSv1.3", verify, "opportunistic"), sent
