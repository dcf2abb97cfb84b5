"""Connection floods (issue 7 point 9): 5,000 idle connections against a session cap of
1,000; the ones over the cap get `421 4.7.0` and are closed, memory stays bounded, and a
legitimate sender from another address is still served while the flood holds. Running
out of file descriptors makes the accept loop back off instead of spinning, and the
daemon serves again once descriptors come back."""

from __future__ import annotations

import os
import resource
import selectors
import smtplib
import socket
import time
from dataclasses import dataclass

import pytest

from posthorn_harness import IO_TIMEOUT, messages_from, simple_message, submit

FLOOD = 5_000
SESSION_CAP = 1_000
RSS_LIMIT_KB = 300 * 1024
FLOOD_CONFIG = {"limits": {"sessions": SESSION_CAP,
                           "connections_per_ip_per_minute": 1_000_000}}
# The flood comes from 127.0.0.1; the legitimate sender from another client address.
LEGITIMATE_SOURCE = "127.0.0.2"


@pytest.fixture(autouse=True)
def many_descriptors() -> None:
    """The flood needs 5,000+ sockets here, and the daemon (which inherits the limit)
    1,000+ for its sessions."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = FLOOD + SESSION_CAP + 500
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.fail(f"RLIMIT_NOFILE hard limit {hard} < {needed}: raise it (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@dataclass
class FloodConnection:
    sock: socket.socket
    received: bytes = b""
    closed: bool = False

    @property
    def first_line(self) -> bytes:
        return self.received.split(b"\n", 1)[0] if b"\n" in self.received else b""


def open_flood(port: int, count: int) -> list[FloodConnection]:
    """`count` connections from 127.0.0.1 that never send a byte."""
    return [FloodConnection(socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT))
            for _ in range(count)]


def read_banners(flood: list[FloodConnection], timeout: float = 30.0) -> None:
    """Reads until every connection has its first line, and each `421`ed one its EOF."""
    selector = selectors.DefaultSelector()
    for connection in flood:
        connection.sock.setblocking(False)
        selector.register(connection.sock, selectors.EVENT_READ, connection)
    waiting = len(flood)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            connection: FloodConnection = key.data
            chunk = connection.sock.recv(4096)
            connection.received += chunk
            connection.closed = not chunk
            if connection.closed or connection.first_line.startswith(b"220 "):
                selector.unregister(connection.sock)
                waiting -= 1
    selector.close()


def close_all(flood: list[FloodConnection]) -> None:
    for connection in flood:
        connection.sock.close()


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def send_legitimately(port: int, sender: str, source: str, within: float) -> None:
    """Submits one message with smtplib from `source`, retrying a refused connection
    (as a real sending MTA would) for up to `within` seconds."""
    deadline = time.monotonic() + within
    message = simple_message(sender, ["rcpt@dest.example"], "legit")
    while True:
        try:
            with smtplib.SMTP("127.0.0.1", port, local_hostname="legit.test",
                              timeout=IO_TIMEOUT,
                              source_address=(source, 0)) as smtp:
                smtp.sendmail(sender, ["rcpt@dest.example"], message)
                return
        except (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected,
                ConnectionError) as error:
            if time.monotonic() > deadline:
                raise AssertionError(f"legitimate sender not served within {within}s: {error}")
            time.sleep(0.2)


def test_flood_over_the_session_cap_gets_421_and_memory_stays_bounded(daemon_factory):
    daemon = daemon_factory(config=FLOOD_CONFIG)
    pid = daemon.process.pid
    flood = open_flood(daemon.port(), FLOOD)
    try:
        read_banners(flood)
        served = [c for c in flood if c.first_line.startswith(b"220 ")]
        refused = [c for c in flood if c.first_line.startswith(b"421 4.7.0 ")]
        other = [c.received[:80] for c in flood if c not in served and c not in refused]
        assert other == [], f"{len(other)} connections got neither 220 nor 421: {other[:5]}"
        # 0.5% of the cap is kept for clients holding no session, and the harness's
        # readiness probes may still hold a slot or two.
        assert SESSION_CAP - 10 <= len(served) <= SESSION_CAP, len(served)
        assert len(refused) == FLOOD - len(served)
        still_open = [c for c in refused if not c.closed]
        assert still_open == [], f"{len(still_open)} refused connections left open"
        rss = rss_kb(pid)
        assert rss < RSS_LIMIT_KB, f"RSS {rss} kB with {len(served)} idle sessions"
        assert daemon.is_running()
    finally:
        close_all(flood)


def test_legitimate_sender_is_served_while_the_flood_holds(daemon_factory):
    daemon = daemon_factory(config=FLOOD_CONFIG)
    sender = "legit@client.test"
    flood = open_flood(daemon.port(), FLOOD)
    try:
        read_banners(flood)
        held = sum(c.first_line.startswith(b"220 ") for c in flood)
        assert held >= SESSION_CAP - 10, f"the flood holds only {held} sessions"
        send_legitimately(daemon.port(), sender, LEGITIMATE_SOURCE, within=15.0)
        assert not any(c.closed for c in flood if c.first_line.startswith(b"220 ")), \
            "the flood's sessions were dropped: it no longer holds"
    finally:
        close_all(flood)
    assert len(messages_from(daemon.queue(), sender)) == 1


def test_running_out_of_descriptors_does_not_spin_and_recovers(daemon_factory):
    daemon = daemon_factory(config=FLOOD_CONFIG)
    pid = daemon.process.pid
    limit = open_fds(pid) + 100
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limit))
    # More connections than the daemon has descriptors (100 more), and few enough that
    # the rest fit in the listen backlog (128), so every connect completes.
    flood = open_flood(daemon.port(), 200)
    try:
        deadline = time.monotonic() + 10
        while open_fds(pid) < limit - 2:
            assert time.monotonic() < deadline, f"only {open_fds(pid)} of {limit} fds used"
            time.sleep(0.1)
        daemon.wait_for_log(r"accept failed", timeout=5)
        before = cpu_seconds(pid)
        time.sleep(3)
        burned = cpu_seconds(pid) - before
        assert burned < 1.0, f"{burned:.2f}s of CPU in 3s without descriptors: spinning"
        assert daemon.is_running()
    finally:
        close_all(flood)
    sender = "after@client.test"
    queue_id = None
    deadline = time.monotonic() + 15
    while queue_id is None:
        try:
            queue_id = submit(daemon.port(), sender, ["rcpt@dest.example"],
                              simple_message(sender, ["rcpt@dest.example"], "after"))
        except (OSError, smtplib.SMTPException, AssertionError):
            assert time.monotonic() < deadline, "not serving after the flood closed"
            time.sleep(0.2)
    assert len(messages_from(daemon.queue(), sender)) == 1
