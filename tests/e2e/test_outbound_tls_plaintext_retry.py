"""`outbound.plaintext_retry = "next_attempt"`: a failed STARTTLS defers this attempt,
and the retry (after `queue.retry_min`) delivers in plaintext without trying STARTTLS."""

from __future__ import annotations

from posthorn_harness import simple_message, starttls_client_lines, submit, to_lines
from tls_peers import StartTls

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
PEER = "127.0.0.5"
RETRY_MIN = 1.0


def test_next_attempt_defers_then_delivers_in_plaintext(
        dest_mx, broken_starttls_factory, tls_daemon_factory):
    dest_mx(PEER)
    peer = broken_starttls_factory(PEER, "garbage")
    daemon = tls_daemon_factory({"outbound": {"plaintext_retry": "next_attempt"},
                                 "queue": {"retry_min": f"{RETRY_MIN:.0f}s",
                                           "retry_max": "2s"}})

    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], "next-attempt"))
    [received] = peer.wait_for_messages(1, timeout=15)
    daemon.wait_until_gone(queue_id)

    first, second = peer.wait_for_connections(2)
    assert len(peer.connections()) == 2, peer.describe()
    assert (first.starttls, first.messages) == (StartTls.GARBAGE_SENT, 0), peer.describe()
    assert (second.starttls, second.messages) == (StartTls.NOT_ATTEMPTED, 1), peer.describe()
    assert second.opened_at - first.opened_at >= RETRY_MIN * 0.75, \
        "the plaintext connection came at once, not on the next attempt"
    assert received.tls_version is None

    failures = [line for line in starttls_client_lines(daemon)
                if line.get("verify") == "SOFTWARE"]
    assert len(failures) == 1, failures
    attempts = to_lines(daemon, queue_id, RECIPIENT)
    assert [line["stat"].split()[0].rstrip(":") for line in attempts] == [
        "Deferred", "Sent"], attempts
    deferred, sent = attempts
    assert deferred["dsn"].startswith("4.7."), deferred
    assert (sent["dsn"], sent["tls"], sent["verify"]) == ("2.0.0", "none", "CLEAR"), sent
