"""`outbound.tls_failure = "defer"` is sendmail's behaviour: a failed STARTTLS defers
the recipient with 4.7.x, the log says `action=defer`, and the mail is not delivered in
plaintext on a retry either."""

from __future__ import annotations

import pytest

from posthorn_harness import (simple_message, starttls_client_lines, submit,
                              wait_for_to_line)

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
PEER = "127.0.0.5"


@pytest.mark.parametrize("mode, verify", [("refuse", "PROTOCOL"), ("garbage", "SOFTWARE")])
def test_failed_starttls_defers_and_keeps_the_mail_queued(
        dest_mx, broken_starttls_factory, tls_daemon_factory, mode, verify):
    dest_mx(PEER)
    peer = broken_starttls_factory(PEER, mode)
    daemon = tls_daemon_factory({"outbound": {"tls_failure": "defer"}})

    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], f"defer-{mode}"))
    deferred = daemon.wait_for_recipient(queue_id, RECIPIENT, "deferred", attempts=2)
    assert "4.7." in (deferred.get("last_error") or ""), deferred

    assert peer.messages() == [], peer.describe()
    connections = peer.connections()
    assert len(connections) >= 2, peer.describe()
    assert all(c.starttls_attempted and c.messages == 0 for c in connections), \
        peer.describe()

    failures = [line for line in starttls_client_lines(daemon) if line.get("verify") == verify]
    assert failures, starttls_client_lines(daemon)
    assert all(line.get("action") == "defer" for line in failures), failures
    first = wait_for_to_line(daemon, queue_id, RECIPIENT, "Deferred")
    assert first["dsn"].startswith("4.7."), first
