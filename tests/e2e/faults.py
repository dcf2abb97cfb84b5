"""Fault injection for the robustness tests (issue 7): strace attached to a running daemon
to fail or kill chosen system calls, a daemon frozen and killed at a chosen moment, a
client that sends a message in steps, and a sink that freezes the daemon as it answers.

`attached_strace` attaches `strace -f -p PID` to every thread of a running daemon and
detaches again on leaving the block: faults are injected only while the block runs, so a
test sees both the fault and the recovery afterwards without a restart. Attaching (rather
than starting the daemon under strace) keeps start-up, whose system calls vary, out of the
injection counts; `-P PATH` limits the injection to one spool file or directory.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from aiosmtpd.controller import Controller

from posthorn_harness import Daemon, HarnessError, RawSmtp, Reply, make_message

ATTACH_TIMEOUT = 10.0


# --- strace ---------------------------------------------------------------------------


def _tasks(pid: int) -> list[Path]:
    try:
        return list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return []


def _tracer_of(task: Path) -> int | None:
    """The TracerPid of one thread; None once the thread is gone."""
    try:
        status = (task / "status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in status.splitlines():
        if line.startswith("TracerPid:"):
            return int(line.split()[1])
    return None


def _wait_for_tracer(pid: int, tracer: int, what: str,
                     strace: subprocess.Popen | None = None) -> None:
    """Waits until every live thread of `pid` is traced by `tracer` (0: by nobody)."""
    deadline = time.monotonic() + ATTACH_TIMEOUT
    while True:
        tracers = {_tracer_of(task) for task in _tasks(pid)} - {None}
        if tracers <= {tracer}:
            return
        if strace is not None and strace.poll() is not None:
            raise HarnessError(f"strace exited with {strace.returncode} before it could "
                               f"{what} {pid}")
        if time.monotonic() > deadline:
            raise HarnessError(f"strace did not {what} every thread of {pid}: {tracers}")
        time.sleep(0.02)


@contextlib.contextmanager
def attached_strace(pid: int, trace_file: Path, *options: str) -> Iterator[subprocess.Popen]:
    """Runs `strace -f -p PID -o TRACE_FILE OPTIONS` for the duration of the block; on
    entry every thread is traced, on exit none is (strace detaches on SIGINT). A block
    whose faults kill the daemon simply finds strace gone. strace's own messages go to
    TRACE_FILE.stderr."""
    with open(trace_file.with_suffix(".stderr"), "wb") as messages:
        tracer = subprocess.Popen(
            ["strace", "-f", "-qq", "-p", str(pid), "-o", str(trace_file), *options],
            stdin=subprocess.DEVNULL, stdout=messages, stderr=messages)
    try:
        _wait_for_tracer(pid, tracer.pid, "attach to", tracer)
        yield tracer
    finally:
        if tracer.poll() is None:
            tracer.send_signal(signal.SIGINT)
        try:
            tracer.wait(timeout=ATTACH_TIMEOUT)
        except subprocess.TimeoutExpired:
            tracer.kill()
            tracer.wait()
        _wait_for_tracer(pid, 0, "detach from")


def injected_calls(trace_file: Path) -> list[str]:
    """The traced lines strace marks `(INJECTED...)`: proof the fault happened."""
    return [line for line in trace_file.read_text(errors="replace").splitlines()
            if "INJECTED" in line]


def killed_in(trace_file: Path, calls: tuple[str, ...]) -> bool:
    """Whether the trace shows one of `calls` entered and the daemon killed by SIGKILL:
    strace marks a signal-only injection with nothing but the death that follows."""
    trace = trace_file.read_text(errors="replace")
    entered = re.search(rf"^\d+\s+(?:{'|'.join(calls)})\(", trace, re.M) is not None
    return entered and "+++ killed by SIGKILL +++" in trace


# --- processes ------------------------------------------------------------------------


def freeze(pid: int) -> None:
    """SIGSTOP, and wait until the whole process is stopped: from here until a SIGKILL
    it cannot act on anything it is told."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + ATTACH_TIMEOUT
    while not all(_thread_state(task) in ("T", "t", None) for task in _tasks(pid)):
        if time.monotonic() > deadline:
            raise HarnessError(f"process {pid} did not stop")
        time.sleep(0.005)


def _thread_state(task: Path) -> str | None:
    try:
        stat = (task / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rpartition(")")[2].split()[0]


def wait_for_exit(process: subprocess.Popen, timeout: float) -> int:
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"process {process.pid} still running after {timeout}s")


def wait_for_output(daemon: Daemon, pattern: str, timeout: float = 5.0) -> str:
    """The daemon's stdout and stderr once `pattern` matches in them: what it reports
    at start is printed just after its listeners accept."""
    deadline = time.monotonic() + timeout
    while re.search(pattern, daemon.stderr(), re.M) is None:
        if time.monotonic() > deadline:
            raise HarnessError(f"no {pattern!r} in the daemon's output:\n{daemon.stderr()}")
        time.sleep(0.02)
    return daemon.stderr()


# --- the spool as files -----------------------------------------------------------------


def spool_files(spool: Path, directory: str) -> list[Path]:
    """The files in `spool/directory` (`incoming`, `queue`, `quarantine`), sorted."""
    path = spool / directory
    return sorted(path.iterdir()) if path.is_dir() else []


def wait_for_spool_file(spool: Path, directory: str, timeout: float = 5.0) -> Path:
    """The one file that appears in `spool/directory`."""
    deadline = time.monotonic() + timeout
    while True:
        files = spool_files(spool, directory)
        if len(files) == 1:
            return files[0]
        if len(files) > 1 or time.monotonic() > deadline:
            raise HarnessError(f"expected one file in {spool / directory}, found {files}")
        time.sleep(0.02)


# --- a client that sends one message in steps -------------------------------------------


@dataclass
class StepwiseMessage:
    """One message from `sender` to `recipient` whose body is `body_lines` lines, so
    that a test can stop anywhere: `open_data` (through 354), `send_body`, `finish`."""
    sender: str
    recipient: str = "rcpt@dest.example"
    body_lines: int = 40

    @property
    def content(self) -> bytes:
        body = "".join(f"line {n} of the message from {self.sender}\n"
                       for n in range(self.body_lines))
        return make_message(self.sender, [self.recipient], f"from {self.sender}", body,
                            f"{self.sender}.msgid")

    def open_data(self, port: int) -> RawSmtp:
        client = RawSmtp(port)
        client.expect(None, 220)
        client.ehlo()
        client.expect(f"MAIL FROM:<{self.sender}>", 250)
        client.expect(f"RCPT TO:<{self.recipient}>", 250)
        client.expect("DATA", 354)
        return client

    def send_body(self, client: RawSmtp, fraction: float = 1.0) -> None:
        content = self.content
        client.send(content[:int(len(content) * fraction)])

    def finish(self, client: RawSmtp) -> Reply:
        """The rest after `send_body(client, 1.0)`: the final dot, and its reply."""
        client.send(b".\r\n")
        return client.read_reply()

    def send(self, port: int) -> Reply:
        with self.open_data(port) as client:
            self.send_body(client)
            return self.finish(client)


# --- a sink that freezes the daemon as it accepts --------------------------------------


@dataclass(frozen=True)
class Accepted:
    sender: str
    recipients: tuple[str, ...]
    content: bytes


class _FreezingHandler:
    def __init__(self, sink: "FreezingSink"):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        self.sink.accepted.append(Accepted(envelope.mail_from, tuple(envelope.rcpt_tos),
                                           bytes(envelope.original_content or b"")))
        if self.sink.freeze_pid is not None:
            freeze(self.sink.freeze_pid)
            self.sink.frozen = True
        return "250 2.0.0 Ok: accepted"


class FreezingSink:
    """An SMTP server on host:port that accepts every message; while `freeze_pid` is set
    it stops that process (SIGSTOP) before it answers `250`, so the 250 reaches a client
    that can no longer act on it."""

    def __init__(self, host: str, port: int):
        self.accepted: list[Accepted] = []
        self.freeze_pid: int | None = None
        self.frozen = False
        self._controller = Controller(_FreezingHandler(self), hostname=host, port=port,
                                      decode_data=False, ready_timeout=10.0)

    def __enter__(self) -> "FreezingSink":
        self._controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._controller.stop()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Accepted]:
        deadline = time.monotonic() + timeout
        while len(self.accepted) < count:
            if time.monotonic() > deadline:
                raise HarnessError(f"{len(self.accepted)} of {count} messages after {timeout}s")
            time.sleep(0.05)
        return list(self.accepted)
