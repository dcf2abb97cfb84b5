"""The sendmail command-line interface (SPEC 1): `posthorn sendmail`, the `sendmail` and
`mailq` names, `-bs`, and `queue flush` through the daemon's control socket."""

from __future__ import annotations

import os
import pwd
import re
import subprocess
from pathlib import Path

from posthorn_harness import HOSTNAME, Daemon, posthorn_binary

EX_USAGE = 64
EX_TEMPFAIL = 75


def run(daemon: Daemon, *args: str, stdin: bytes = b"",
        program: Path | None = None) -> subprocess.CompletedProcess:
    """`posthorn sendmail -C CONFIG ARGS` (or `PROGRAM -C CONFIG ARGS` for a link)."""
    command = ([str(program)] if program else [str(posthorn_binary()), "sendmail"])
    command += ["-C", str(daemon.config_file), *args]
    return subprocess.run(command, input=stdin, capture_output=True, timeout=30)


def only_message(daemon: Daemon) -> dict:
    queue = daemon.queue()
    assert len(queue) == 1, queue
    return queue[0]


def recipients(message: dict) -> list[str]:
    return [recipient["address"] for recipient in message["recipients"]]


def test_sendmail_queues_while_the_daemon_is_down(daemon_factory):
    daemon = daemon_factory(start=False)
    message = b"Subject: offline\nTo: someone@else.example\n\nqueued while down\n"
    result = run(daemon, "-f", "sender@client.example", "a@one.example", "b@two.example",
                 stdin=message)
    assert result.returncode == 0, result.stderr
    queued = only_message(daemon)
    assert queued["sender"] == "sender@client.example"
    assert recipients(queued) == ["a@one.example", "b@two.example"]
    stored = daemon.stored_message(queued["id"])
    assert stored.startswith(f"Received: from {pwd.getpwuid(os.getuid()).pw_name}".encode())
    assert b"Subject: offline\r\nTo: someone@else.example\r\n" in stored
    assert f"Message-ID: <{queued['id']}@{HOSTNAME}>\r\n".encode() in stored
    assert re.search(rb"\r\nDate: .+\r\n", stored)
    assert stored.endswith(b"\r\n\r\nqueued while down\r\n")
    daemon.wait_for_log(
        rf"{queued['id']}: from=<sender@client.example>, size={queued['size']}, nrcpts=2, "
        rf"msgid=<{queued['id']}@{HOSTNAME}>, proto=local, relay=\S+@localhost")


def test_default_sender_is_the_invoking_user(daemon_factory):
    daemon = daemon_factory(start=False)
    result = run(daemon, "-F", "Test User", "rcpt@one.example", stdin=b"Subject: who\n\nme\n")
    assert result.returncode == 0, result.stderr
    user = pwd.getpwuid(os.getuid()).pw_name
    queued = only_message(daemon)
    assert queued["sender"] == f"{user}@{HOSTNAME}"
    stored = daemon.stored_message(queued["id"])
    assert f"From: Test User <{user}@{HOSTNAME}>\r\n".encode() in stored


def test_dash_t_dash_i_keeps_a_lone_dot_and_drops_bcc(daemon_factory):
    daemon = daemon_factory(start=False)
    message = (b"To: Alice <alice@one.example>\nBcc: hidden@two.example\n"
               b"Subject: dots\n\nline one\n.\nline two\n")
    result = run(daemon, "-t", "-i", "extra@three.example", stdin=message)
    assert result.returncode == 0, result.stderr
    queued = only_message(daemon)
    assert recipients(queued) == ["extra@three.example", "alice@one.example",
                                  "hidden@two.example"]
    stored = daemon.stored_message(queued["id"])
    assert stored.endswith(b"\r\n\r\nline one\r\n.\r\nline two\r\n"), stored
    # A header line, not a substring: the queue ID in Received: may spell "Bcc".
    assert not any(line.lower().startswith(b"bcc:") for line in stored.split(b"\r\n")), stored
    assert b"hidden@" not in stored


def test_without_dash_i_a_lone_dot_ends_the_message(daemon_factory):
    daemon = daemon_factory(start=False)
    message = b"To: alice@one.example\nSubject: dots\n\nline one\n.\nline two\n"
    result = run(daemon, "-t", stdin=message)
    assert result.returncode == 0, result.stderr
    stored = daemon.stored_message(only_message(daemon)["id"])
    assert stored.endswith(b"\r\n\r\nline one\r\n"), stored
    assert b"line two" not in stored


def test_sendmail_and_mailq_names_work_through_symlinks(daemon_factory, tmp_path):
    daemon = daemon_factory(start=False)
    links = tmp_path / "bin"
    links.mkdir()
    for name in ("sendmail", "mailq"):
        (links / name).symlink_to(posthorn_binary().resolve())
    result = run(daemon, "-oi", "linked@one.example", stdin=b"Subject: link\n\nbody\n",
                 program=links / "sendmail")
    assert result.returncode == 0, result.stderr
    queued = only_message(daemon)
    assert recipients(queued) == ["linked@one.example"]
    listing = subprocess.run([str(links / "mailq"), "-c", str(daemon.config_file)],
                             capture_output=True, timeout=30)
    assert listing.returncode == 0, listing.stderr
    assert queued["id"].encode() in listing.stdout
    assert b"<linked@one.example>" in listing.stdout
    bp = run(daemon, "-bp")
    assert bp.returncode == 0, bp.stderr
    assert bp.stdout == listing.stdout


def test_usage_errors_exit_64_and_queue_nothing(daemon_factory):
    daemon = daemon_factory(start=False)
    unknown = run(daemon, "-X", "a@one.example", stdin=b"Subject: x\n\nx\n")
    assert unknown.returncode == EX_USAGE
    assert b"unknown option -X" in unknown.stderr
    nobody = run(daemon, stdin=b"Subject: x\n\nx\n")
    assert nobody.returncode == EX_USAGE
    nobody_in_headers = run(daemon, "-t", stdin=b"Subject: x\n\nx\n")
    assert nobody_in_headers.returncode == EX_USAGE
    assert daemon.queue() == []


def test_dash_bs_runs_an_smtp_session_on_stdin_and_stdout(daemon_factory):
    daemon = daemon_factory(start=False)
    script = (b"EHLO local.test\r\nMAIL FROM:<bs@client.example>\r\n"
              b"RCPT TO:<far@away.example>\r\nDATA\r\n"
              b"Subject: bs\r\n\r\nover stdin\r\n.\r\nQUIT\r\n")
    result = run(daemon, "-bs", stdin=script)
    assert result.returncode == 0, result.stderr
    replies = result.stdout.decode()
    assert replies.startswith(f"220 {HOSTNAME}"), replies
    queued = only_message(daemon)
    assert f"250 2.0.0 {queued['id']} " in replies, replies
    assert "\r\n221 " in replies, replies
    assert queued["sender"] == "bs@client.example"
    assert recipients(queued) == ["far@away.example"]
    assert daemon.stored_message(queued["id"]).endswith(b"Subject: bs\r\n\r\nover stdin\r\n")


def test_flush_reports_a_stopped_daemon_and_reaches_a_running_one(daemon_factory):
    daemon = daemon_factory(start=False)
    down = daemon.cli("queue", "flush", check=False)
    assert down.returncode == EX_TEMPFAIL
    assert b"not running" in down.stderr
    dash_q = run(daemon, "-q")
    assert dash_q.returncode == EX_TEMPFAIL
    assert b"not running" in dash_q.stderr

    daemon.start()
    up = daemon.cli("queue", "flush")
    assert up.stdout == b"queue run requested\n"
    assert run(daemon, "-q").returncode == 0
    missing = daemon.cli("queue", "flush", "qAKNj3AB012345", check=False)
    assert missing.returncode == 66, missing
