"""Admission limits: concurrent sessions, connections per client per minute, and the
per-command timeout (issue 2 point 3; RFC 5321 section 4.5.3.2)."""

from __future__ import annotations

import socket
import time


def banner(port: int) -> bytes:
    """Connects and returns the first reply line the server sends."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        return sock.makefile("rb").readline()


def test_sessions_over_the_cap_get_421_and_a_freed_slot_is_reused(daemon_factory):
    daemon = daemon_factory(config={"limits": {"sessions": 2}})
    held = []
    try:
        # The harness's readiness probe may still hold a slot for a moment after it
        # closed: take the two sessions as soon as both are served.
        deadline = time.monotonic() + 5
        while len(held) < 2:
            sock = socket.create_connection(("127.0.0.1", daemon.port()), timeout=10)
            if sock.makefile("rb").readline().startswith(b"220 "):
                held.append(sock)
                continue
            sock.close()
            assert time.monotonic() < deadline, "two sessions were never served"
            time.sleep(0.05)
        assert banner(daemon.port()).startswith(b"421 4.7.0 ")
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while not banner(daemon.port()).startswith(b"220 "):
        assert time.monotonic() < deadline, "a closed session never freed its slot"
        time.sleep(0.05)


def test_connection_rate_per_client_is_capped(daemon_factory):
    daemon = daemon_factory(config={"limits": {"connections_per_ip_per_minute": 5}})
    replies = [banner(daemon.port()) for _ in range(10)]
    served = [reply for reply in replies if reply.startswith(b"220 ")]
    refused = [reply for reply in replies if reply.startswith(b"421 4.7.0 ")]
    # The harness's readiness probe used one or more of the five.
    assert 1 <= len(served) < 5, replies
    assert len(served) + len(refused) == 10, replies
    first_refusal = replies.index(refused[0])
    assert all(reply.startswith(b"421") for reply in replies[first_refusal:]), replies


def test_silent_client_is_dropped_after_the_command_timeout(daemon_factory):
    daemon = daemon_factory(config={"timeouts": {"command": "1s"}})
    with socket.create_connection(("127.0.0.1", daemon.port()), timeout=10) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        started = time.monotonic()
        line = reader.readline()
        waited = time.monotonic() - started
        assert line.startswith(b"421 4.4.2 "), line
        assert 0.8 < waited < 5, waited
        assert reader.readline() == b"", "the connection is closed after the 421"
