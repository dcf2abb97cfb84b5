"""Issue 7, server-side robustness: every limit at the limit and one past it (message
size, recipients, command line, text line, header size, hop count), RFC 2920
synchronisation (early talkers, input after DATA before 354), slow clients (a deadline
per command, a minimum DATA rate, a deadline for the whole message) while other
sessions are served, and refusing new mail while the spool's file system is short of
space (a real 5 MB tmpfs)."""

from __future__ import annotations

import contextlib
import smtplib
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from posthorn_harness import RawSmtp, make_message, messages_from

SENDER = "limits@client.test"
RECIPIENT = "bob@dest.example"


def session(daemon) -> RawSmtp:
    client = RawSmtp(daemon.port())
    client.expect(None, 220)
    client.ehlo()
    return client


def send_data(client: RawSmtp, content: bytes, recipients: int = 1):
    """One transaction carrying `content` (CRLF lines, ending in CRLF): the final reply."""
    client.expect(f"MAIL FROM:<{SENDER}>", 250)
    for n in range(recipients):
        client.expect(f"RCPT TO:<r{n}@dest.example>", 250)
    client.expect("DATA", 354)
    client.send(content + b".\r\n")
    return client.read_reply()


def assert_reply(reply, code: int, status: str) -> None:
    assert reply.code == code and reply.lines[0].startswith(status), str(reply)


def content_of(size: int, header: bytes = b"Subject: sized\r\n") -> bytes:
    """A message of exactly `size` octets: `header`, the empty line, 76-octet lines."""
    message = header + b"\r\n"
    while len(message) + 78 <= size:
        message += b"x" * 76 + b"\r\n"
    rest = size - len(message)
    assert rest == 0 or rest >= 2, rest
    return message + (b"y" * (rest - 2) + b"\r\n" if rest else b"")


def queued_count(daemon) -> int:
    return len(messages_from(daemon.queue(), SENDER))


# --- point 11: limits at the limit and one past it ---------------------------------


def test_message_size_at_the_limit_and_one_octet_over(daemon_factory):
    daemon = daemon_factory(config={"limits": {"message_size": 10_000}})
    with session(daemon) as client:
        assert_reply(send_data(client, content_of(10_000)), 250, "2.0.0")
        assert_reply(send_data(client, content_of(10_001)), 552, "5.3.4")
    assert queued_count(daemon) == 1


def test_recipients_at_the_limit_and_one_over_keep_the_earlier_ones(daemon_factory):
    daemon = daemon_factory(config={"limits": {"recipients": 3}})
    with session(daemon) as client:
        client.expect(f"MAIL FROM:<{SENDER}>", 250)
        for n in range(3):
            client.expect(f"RCPT TO:<r{n}@dest.example>", 250)
        assert_reply(client.command("RCPT TO:<r3@dest.example>"), 452, "4.5.3")
        client.expect("DATA", 354)
        client.send(content_of(200) + b".\r\n")
        assert_reply(client.read_reply(), 250, "2.0.0")
    [queued] = messages_from(daemon.queue(), SENDER)
    assert sorted(r["address"] for r in queued["recipients"]) == [
        f"r{n}@dest.example" for n in range(3)]


def test_command_line_of_512_octets_passes_and_513_is_refused(daemon):
    with session(daemon) as client:
        at_limit = "NOOP " + "a" * (512 - len("NOOP ") - 2)
        assert len(at_limit) + 2 == 512
        assert_reply(client.command(at_limit), 250, "2.0.0")
        assert_reply(client.command(at_limit + "a"), 500, "5.5.2")
        assert_reply(client.command("NOOP"), 250, "2.0.0")


def test_text_line_of_998_octets_passes_and_999_is_refused(daemon):
    with session(daemon) as client:
        message = b"Subject: long line\r\n\r\n" + b"z" * 998 + b"\r\n"
        assert_reply(send_data(client, message), 250, "2.0.0")
        message = b"Subject: long line\r\n\r\n" + b"z" * 999 + b"\r\n"
        assert_reply(send_data(client, message), 550, "5.6.0")
    assert queued_count(daemon) == 1


def header_of(size: int) -> bytes:
    """A header section of exactly `size` octets, in lines of at most 100."""
    header = b"Subject: big header\r\n"
    while size - len(header) > 100:
        header += b"X-Fill: " + b"f" * 90 + b"\r\n"
    rest = size - len(header)
    return header + b"X-Last: " + b"l" * (rest - len(b"X-Last: ") - 2) + b"\r\n"


def test_header_section_at_the_limit_and_one_octet_over(daemon_factory):
    daemon = daemon_factory(config={"limits": {"header_size": 2000}})
    with session(daemon) as client:
        at_limit = header_of(2000) + b"\r\nbody\r\n"
        assert_reply(send_data(client, at_limit), 250, "2.0.0")
        over = header_of(2001) + b"\r\nbody\r\n"
        reply = send_data(client, over)
        assert_reply(reply, 552, "5.3.4")
        assert "header" in reply.text.lower(), str(reply)
    assert queued_count(daemon) == 1


def hops(count: int) -> bytes:
    trace = b"".join(b"Received: from hop%d.example by hop%d.example; "
                     b"Mon, 1 Jan 2024 00:00:00 +0000\r\n" % (n, n + 1) for n in range(count))
    return trace + b"Subject: looping\r\n\r\nReceived: a body line, not a hop\r\n"


def test_hop_count_at_the_limit_and_one_over_is_a_loop(daemon_factory):
    daemon = daemon_factory(config={"limits": {"hops": 5}})
    with session(daemon) as client:
        assert_reply(send_data(client, hops(5)), 250, "2.0.0")
        reply = send_data(client, hops(6))
        assert_reply(reply, 554, "5.4.6")
        assert "hops" in reply.text, str(reply)
    assert queued_count(daemon) == 1


# --- point 12: RFC 2920 synchronisation ------------------------------------------


def test_early_talker_is_refused_without_a_greeting(daemon_factory):
    daemon = daemon_factory(config={"timeouts": {"greet_pause": "1s"}})
    with RawSmtp(daemon.port()) as client:
        client.send(b"EHLO eager.example\r\n")
        reply = client.read_reply()
        assert_reply(reply, 554, "5.5.0")
        assert "greeting" in reply.text, str(reply)
        with pytest.raises(EOFError):
            client.read_reply()


def test_a_client_that_waits_for_the_greeting_is_served_after_the_pause(daemon_factory):
    daemon = daemon_factory(config={"timeouts": {"greet_pause": "1s"}})
    started = time.monotonic()
    with session(daemon) as client:
        assert time.monotonic() - started >= 0.9
        assert_reply(send_data(client, content_of(300)), 250, "2.0.0")
    assert queued_count(daemon) == 1


def test_body_pipelined_after_data_before_354_is_refused(daemon):
    with session(daemon) as client:
        client.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RECIPIENT}>\r\nDATA\r\n".encode()
                    + content_of(300) + b".\r\nMAIL FROM:<smuggled@evil.example>\r\n")
        replies = [client.read_reply() for _ in range(3)]
        assert [r.code for r in replies] == [250, 250, 554], [str(r) for r in replies]
        assert_reply(replies[2], 554, "5.5.0")
        with pytest.raises(EOFError):
            client.read_reply()
    assert daemon.queue() == []


def test_pipelined_group_ending_in_data_is_served(daemon):
    with session(daemon) as client:
        client.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RECIPIENT}>\r\n"
                    f"RCPT TO:<carol@dest.example>\r\nDATA\r\n".encode())
        assert [client.read_reply().code for _ in range(4)] == [250, 250, 250, 354]
        client.send(content_of(300) + b".\r\n")
        assert_reply(client.read_reply(), 250, "2.0.0")
    swaks = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{daemon.port()}", "--helo", "client.test",
         "--from", SENDER, "--to", RECIPIENT, "--pipeline", "--timeout", "10"],
        capture_output=True, text=True, timeout=60)
    assert swaks.returncode == 0, swaks.stdout + swaks.stderr
    assert queued_count(daemon) == 2


# --- point 10: slow clients --------------------------------------------------------


def trickle(client: RawSmtp, piece: bytes, every: float, limit: float) -> tuple[float, bytes]:
    """Sends `piece` every `every` seconds until the server answers or closes; returns
    how long that took and what it said."""
    started = time.monotonic()
    client.sock.settimeout(every)
    while time.monotonic() - started < limit:
        try:
            client.send(piece)
        except OSError:
            break
        try:
            answer = client.sock.recv(4096)
            return time.monotonic() - started, answer
        except socket.timeout:
            continue
    return time.monotonic() - started, b""


def test_slowloris_in_data_is_dropped_while_others_are_served(daemon_factory):
    daemon = daemon_factory(config={"timeouts": {
        "data_rate_window": "2s", "data_min_bytes_per_second": 1000}})
    outcome: dict = {}
    with session(daemon) as slow:
        slow.expect("MAIL FROM:<slow@client.test>", 250)
        slow.expect(f"RCPT TO:<{RECIPIENT}>", 250)
        slow.expect("DATA", 354)

        def loris() -> None:
            outcome["elapsed"], outcome["answer"] = trickle(slow, b"x" * 20, 0.2, 10)

        thread = threading.Thread(target=loris)
        thread.start()
        for n in range(3):  # served meanwhile, each in well under the window
            message = make_message(SENDER, [RECIPIENT], f"fast {n}", "quick\n", f"fast{n}@x")
            with smtplib.SMTP("127.0.0.1", daemon.port(), timeout=10) as fast:
                assert fast.sendmail(SENDER, [RECIPIENT], message) == {}
        thread.join()
    assert outcome["answer"].startswith(b"421 4.4.2"), outcome
    assert 1.5 <= outcome["elapsed"] <= 5, outcome
    assert queued_count(daemon) == 3
    assert messages_from(daemon.queue(), "slow@client.test") == []


def test_whole_message_deadline_drops_a_client_that_never_finishes(daemon_factory):
    daemon = daemon_factory(config={"timeouts": {
        "data_end": "2s", "data_min_bytes_per_second": 0}})
    with session(daemon) as client:
        client.expect(f"MAIL FROM:<{SENDER}>", 250)
        client.expect(f"RCPT TO:<{RECIPIENT}>", 250)
        client.expect("DATA", 354)
        elapsed, answer = trickle(client, b"a line of text\r\n" * 8, 0.2, 10)
    assert answer.startswith(b"421 4.4.2"), answer
    assert 1.5 <= elapsed <= 4, elapsed
    assert daemon.queue() == []


def test_command_deadline_is_not_extended_by_trickled_bytes(daemon_factory):
    daemon = daemon_factory(config={"timeouts": {"command": "2s"}})
    with session(daemon) as client:
        elapsed, answer = trickle(client, b"N", 0.25, 10)
    assert answer.startswith(b"421 4.4.2"), answer
    assert 1.5 <= elapsed <= 4, elapsed


# --- point 3 (margin): refuse MAIL while the spool is short of space ---------------


@contextlib.contextmanager
def tmpfs(mount_point: Path, size: str):
    mount_point.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                   check=True, capture_output=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def test_mail_is_refused_while_free_space_is_below_the_margin(daemon_factory, tmp_path):
    with tmpfs(tmp_path / "small-fs", "5m") as fs:
        # 2 MB limit: MAIL needs 3 MB free; the file system has 5 MiB.
        daemon = daemon_factory(config={"spool": str(fs / "spool"),
                                        "limits": {"message_size": 2_000_000}})
        try:
            with session(daemon) as client:
                client.expect(f"MAIL FROM:<{SENDER}>", 250)
                client.expect("RSET", 250)
                filler = fs / "filler"
                filler.write_bytes(b"\0" * 2_500_000)
                assert_reply(client.command(f"MAIL FROM:<{SENDER}>"), 452, "4.3.1")
                filler.unlink()
                assert_reply(send_data(client, content_of(50_000)), 250, "2.0.0")
            assert queued_count(daemon) == 1
        finally:
            daemon.kill()
