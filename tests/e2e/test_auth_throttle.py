"""Failed AUTH (issue 5; SPEC sections 2, 5): a wrong password gets `535 5.7.8` and an
`AUTH=server ... reject=` log line; after `auth.max_failures` failures within
`auth.failure_window` the next AUTH attempt gets `421 4.7.0` and the connection closes.

The throttle counts failures per client IP, not per connection or per user: once an
IP is throttled, the right password from a new connection of the same IP is refused
too, while another IP (127.0.0.2, also loopback) still authenticates."""

from __future__ import annotations

import ssl
import time

from conftest import AUTH_USERS
from posthorn_harness import (
    LOOPBACK_RELAY, REJECT_535, RawSmtp, auth_login, auth_plain, auth_server_lines,
    tls_submission_session, trusting)

USER, PASSWORD = "alice", AUTH_USERS["alice"]
WRONG = "not-" + PASSWORD
MAX_FAILURES = 3
THROTTLED = {"max_failures": MAX_FAILURES, "failure_window": "10m"}


def session(daemon, certs, source: str | None = None) -> RawSmtp:
    return tls_submission_session(daemon.port("submission"), trusting(certs.ca), source=source)


def assert_refused(reply) -> None:
    assert reply.code == 535 and reply.lines[0].startswith("5.7.8"), reply


def assert_throttled(reply) -> None:
    assert reply.code == 421 and reply.lines[0].startswith("4.7.0"), reply


def assert_closed(client: RawSmtp) -> None:
    """The server closed the connection: end of stream (or a reset), nothing else."""
    client.sock.settimeout(5)
    try:
        data = client.buffer or client.sock.recv(4096)
    except (ConnectionResetError, ssl.SSLEOFError):
        return
    assert data == b"", f"connection still open, server sent {data!r}"


def fail(daemon, certs, times: int, source: str | None = None) -> None:
    """`times` wrong passwords on one new connection, each refused with 535."""
    with session(daemon, certs, source) as client:
        for _ in range(times):
            assert_refused(auth_plain(client, USER, WRONG))


def test_wrong_password_is_refused_with_535_and_logged(auth_daemon_factory, certs):
    daemon = auth_daemon_factory(auth={"max_failures": 5})
    with session(daemon, certs) as client:
        assert_refused(auth_plain(client, USER, WRONG))
        assert_refused(auth_login(client, USER, WRONG))
        # An unknown user gets the same answer: no probing for user names.
        assert_refused(auth_plain(client, "mallory", PASSWORD))
        # Still not authenticated.
        refused = client.command(f"MAIL FROM:<{USER}@posthorn.test>")
        assert refused.code == 530 and refused.lines[0].startswith("5.7.0"), refused

    daemon.wait_for_log(r"AUTH=server, .*authid=mallory, ")
    lines = auth_server_lines(daemon)
    assert [(f["authid"], f["mech"]) for f in lines] == [
        (USER, "PLAIN"), (USER, "LOGIN"), ("mallory", "PLAIN")]
    for fields in lines:
        assert set(fields) == {"AUTH", "relay", "authid", "mech", "reject"}, fields
        assert fields["AUTH"] == "server", fields
        assert LOOPBACK_RELAY.match(fields["relay"]), fields
        assert REJECT_535.match(fields["reject"]), fields
    assert daemon.queue() == []


def test_after_max_failures_the_next_attempt_gets_421_and_the_connection_closes(
        auth_daemon_factory, certs):
    daemon = auth_daemon_factory(auth=THROTTLED)
    with session(daemon, certs) as client:
        for _ in range(MAX_FAILURES):
            assert_refused(auth_plain(client, USER, WRONG))
        # Even the right password: the throttle answers before the password is checked.
        assert_throttled(auth_plain(client, USER, PASSWORD))
        assert_closed(client)


def test_throttle_counts_failures_per_ip_across_connections(auth_daemon_factory, certs):
    daemon = auth_daemon_factory(auth=THROTTLED)
    fail(daemon, certs, 1)
    fail(daemon, certs, MAX_FAILURES - 1)

    with session(daemon, certs) as client:
        assert_throttled(auth_plain(client, USER, PASSWORD))
        assert_closed(client)
    with session(daemon, certs) as client:
        assert_throttled(auth_login(client, USER, PASSWORD))
        assert_closed(client)

    # Another client IP was never refused: it authenticates.
    with session(daemon, certs, source="127.0.0.2") as client:
        accepted = auth_plain(client, USER, PASSWORD)
        assert accepted.code == 235 and accepted.lines[0].startswith("2.7.0"), accepted


def test_failures_older_than_the_window_are_forgotten(auth_daemon_factory, certs):
    daemon = auth_daemon_factory(auth={"max_failures": MAX_FAILURES, "failure_window": "2s"})
    fail(daemon, certs, MAX_FAILURES)
    with session(daemon, certs) as client:
        assert_throttled(auth_plain(client, USER, PASSWORD))

    time.sleep(3)
    with session(daemon, certs) as client:
        accepted = auth_plain(client, USER, PASSWORD)
        assert accepted.code == 235 and accepted.lines[0].startswith("2.7.0"), accepted
