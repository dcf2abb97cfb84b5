"""`Try_TLS:... NO` in the access map (the seeds' workaround) and `outbound.starttls =
"off"` (sendmail's `M=S`): no STARTTLS is sent to a server that offers it, the mail is
delivered, and `policy=` names the access line that decided. Keys are tried as SPEC 3
says: the MX host name, each parent domain, the IP, each IP prefix, the bare tag."""

from __future__ import annotations

import pytest

from posthorn_harness import (simple_message, starttls_client_lines, submit,
                              wait_for_to_line)
from tls_peers import StartTls

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
PEER = "127.0.0.5"
# The deciding entry is on line 3: the policy token must name it, not line 2.
ACCESS = "# outbound TLS exceptions\nTry_TLS:other.example\tNO\n{key}\tNO\n"


def deliver(daemon, tag: str) -> dict[str, str]:
    """Submits one message; returns the fields of its `Sent` line."""
    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], tag))
    return wait_for_to_line(daemon, queue_id, RECIPIENT, "Sent", timeout=15)


@pytest.mark.parametrize("key", ["Try_TLS:mx.dest.example", "Try_TLS:dest.example",
                                 "Try_TLS:127.0.0.5", "Try_TLS:127.0.0", "Try_TLS:"])
def test_try_tls_no_skips_starttls(dest_mx, tls_peer_factory, tls_daemon_factory, key):
    dest_mx(PEER)
    peer = tls_peer_factory(PEER)
    daemon = tls_daemon_factory(access=ACCESS.format(key=key))

    sent = deliver(daemon, "try-tls-no")
    [received] = peer.wait_for_messages(1)
    assert received.tls_version is None
    assert [c.starttls for c in peer.wait_for_connections(1)] == [StartTls.NOT_ATTEMPTED]
    assert (sent["tls"], sent["verify"]) == ("none", "NONE"), sent
    assert sent["policy"] == "try_tls:access:3", sent
    assert starttls_client_lines(daemon) == []


@pytest.mark.parametrize("key", ["Try_TLS:est.example", "Try_TLS:127.0.0.50"])
def test_try_tls_entries_that_do_not_match_leave_starttls_on(
        dest_mx, tls_peer_factory, tls_daemon_factory, key):
    dest_mx(PEER)
    peer = tls_peer_factory(PEER)
    daemon = tls_daemon_factory(access=ACCESS.format(key=key))

    sent = deliver(daemon, "try-tls-other")
    assert peer.wait_for_messages(1)[0].tls_version == "TLSv1.3"
    assert (sent["tls"], sent["verify"], sent["policy"]) == ("TLSv1.3", "OK",
                                                             "opportunistic"), sent


def test_starttls_off_never_sends_starttls(dest_mx, tls_peer_factory, tls_daemon_factory):
    dest_mx(PEER)
    peer = tls_peer_factory(PEER)
    daemon = tls_daemon_factory({"outbound": {"starttls": "off"}})

    sent = deliver(daemon, "starttls-off")
    assert peer.wait_for_messages(1)[0].tls_version is None
    assert [c.starttls for c in peer.wait_for_connections(1)] == [StartTls.NOT_ATTEMPTED]
    assert (sent["tls"], sent["verify"], sent["policy"]) == ("none", "NONE", "off"), sent
    assert starttls_client_lines(daemon) == []
