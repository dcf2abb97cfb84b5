"""Client certificates only when configured (SPEC 4.4, the outlook.com seed): a server
that asks gets `tls.client_certificate` when one is set, and no certificate at all
when none is; the mail goes over TLS either way."""

from __future__ import annotations

import pytest

from posthorn_harness import simple_message, submit, wait_for_to_line
from tls_peers import PresentedCertificate, StartTls

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
PEER = "127.0.0.5"
OUR_CERTIFICATE = PresentedCertificate("posthorn.test", ("posthorn.test",))


@pytest.mark.parametrize("configured", [True, False])
def test_client_certificate_sent_only_when_configured(
        dest_mx, tls_peer_factory, tls_daemon_factory, tls_certs, configured):
    dest_mx(PEER)
    peer = tls_peer_factory(PEER, request_client_cert=True)
    client = {"client_certificate": str(tls_certs.client_certificate),
              "client_private_key": str(tls_certs.client_key)}
    daemon = tls_daemon_factory({"tls": client} if configured else None)

    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], "client-cert"))
    [received] = peer.wait_for_messages(1, timeout=15)
    daemon.wait_until_gone(queue_id)

    [connection] = peer.wait_for_connections(1)
    assert connection.starttls is StartTls.ESTABLISHED, peer.describe()
    expected = OUR_CERTIFICATE if configured else None
    assert connection.client_certificate == expected, peer.describe()
    assert received.tls_version == "TLSv1.3"
    sent = wait_for_to_line(daemon, queue_id, RECIPIENT, "Sent")
    assert (sent["tls"], sent["verify"]) == ("TLSv1.3", "OK"), sent
