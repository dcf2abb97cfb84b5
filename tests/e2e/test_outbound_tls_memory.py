"""The broken-TLS memory (SPEC 4): after one failed STARTTLS the next message to that
host goes straight to plaintext (logged as remembered), across a restart too, until
`posthorn tls-memory forget` or `outbound.tls_failure_memory` runs out; `tls-memory
list` shows the host and its IP address."""

from __future__ import annotations

import json
import time

from posthorn_harness import (simple_message, starttls_client_lines, submit,
                              wait_for_to_line)
from tls_peers import StartTls

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
PEER = "127.0.0.5"
HOST = "mx.dest.example"


def deliver(daemon, peer, tag: str, count: int) -> tuple[str, list]:
    """Submits one message, waits until it is the peer's `count`th and has left the
    queue; returns the queue id and the connections that carried the new attempt."""
    before = len(peer.connections())
    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], tag))
    received = peer.wait_for_messages(count, timeout=15)[count - 1]
    daemon.wait_until_gone(queue_id)
    new = peer.wait_for_connections(received.connection + 1)[before:]
    assert b"Body of " + tag.encode() in received.content
    return queue_id, new


def remembered_lines(daemon) -> list[dict[str, str]]:
    return [line for line in starttls_client_lines(daemon) if "remembered" in
            line.get("reason", "")]


def assert_went_straight_to_plaintext(daemon, queue_id: str, connections) -> None:
    assert [(c.starttls, c.messages) for c in connections] == [
        (StartTls.NOT_ATTEMPTED, 1)], connections
    [line] = remembered_lines(daemon)[-1:]
    assert line["relay"].startswith(HOST) and line["verify"] == "CLEAR", line
    assert line["action"] == "plaintext", line
    sent = wait_for_to_line(daemon, queue_id, RECIPIENT, "Sent")
    assert (sent["tls"], sent["verify"]) == ("none", "CLEAR"), sent


def assert_starttls_tried(connections, why: str = "") -> None:
    """STARTTLS was tried (and broke), then the mail went over a plaintext connection."""
    assert [(c.starttls, c.messages) for c in connections] == [
        (StartTls.GARBAGE_SENT, 0), (StartTls.NOT_ATTEMPTED, 1)], f"{why}\n{connections}"


def test_remembered_host_gets_plaintext_until_forgotten(
        dest_mx, broken_starttls_factory, tls_daemon_factory):
    dest_mx(PEER)
    peer = broken_starttls_factory(PEER, "garbage")
    daemon = tls_daemon_factory()

    _, first = deliver(daemon, peer, "memory-1", 1)
    assert_starttls_tried(first)
    assert remembered_lines(daemon) == []

    queue_id, second = deliver(daemon, peer, "memory-2", 2)
    assert_went_straight_to_plaintext(daemon, queue_id, second)

    listed = daemon.cli("tls-memory", "list").stdout.decode()
    assert HOST in listed and PEER in listed, listed
    as_json = json.loads(daemon.cli("tls-memory", "list", "--json").stdout)
    assert HOST in json.dumps(as_json) and PEER in json.dumps(as_json), as_json

    daemon.cli("tls-memory", "forget", HOST)
    listed = daemon.cli("tls-memory", "list").stdout.decode()
    assert HOST not in listed, listed
    _, third = deliver(daemon, peer, "memory-3", 3)
    assert_starttls_tried(third, f"`tls-memory forget {HOST}` must bring STARTTLS back "
                                 f"(also for the host's IP); `tls-memory list` now:\n{listed}")
    assert len(remembered_lines(daemon)) == 1


def test_memory_survives_a_restart_and_forget_clears_everything(
        dest_mx, broken_starttls_factory, tls_daemon_factory):
    dest_mx(PEER)
    peer = broken_starttls_factory(PEER, "garbage")
    daemon = tls_daemon_factory()
    _, first = deliver(daemon, peer, "restart-1", 1)
    assert_starttls_tried(first)

    daemon.stop()
    daemon.start()
    queue_id, second = deliver(daemon, peer, "restart-2", 2)
    assert_went_straight_to_plaintext(daemon, queue_id, second)

    daemon.cli("tls-memory", "forget")
    listed = daemon.cli("tls-memory", "list").stdout.decode()
    assert HOST not in listed and PEER not in listed, listed
    _, third = deliver(daemon, peer, "restart-3", 3)
    assert_starttls_tried(third)


def test_memory_runs_out_after_tls_failure_memory(
        dest_mx, broken_starttls_factory, tls_daemon_factory):
    memory = 2.0
    dest_mx(PEER)
    peer = broken_starttls_factory(PEER, "garbage")
    daemon = tls_daemon_factory({"outbound": {"tls_failure_memory": f"{memory:.0f}s"}})
    _, first = deliver(daemon, peer, "expiry-1", 1)
    assert_starttls_tried(first)

    time.sleep(max(0.0, first[0].opened_at + memory + 1.0 - time.monotonic()))
    _, second = deliver(daemon, peer, "expiry-2", 2)
    assert_starttls_tried(second)
    assert remembered_lines(daemon) == []
