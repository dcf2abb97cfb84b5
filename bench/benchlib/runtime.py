"""Where the binaries are, how a script talks to its user, and cleaning up.

Every process or instance a script starts is registered with `cleanup` so that it is
stopped however the script ends: normally, on an exception, or on Ctrl-C / SIGTERM
(`run_main` turns both signals into an orderly exit that runs the registered steps)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[2]
SMTP_SOURCE = Path("/usr/sbin/smtp-source")
SMTP_SINK = Path("/usr/sbin/smtp-sink")
POSTFIX = Path("/usr/sbin/postfix")
STOP_TIMEOUT = 10.0


class BenchError(Exception):
    """A benchmark step failed; the message says which and why."""


def posthorn_binary() -> Path:
    return Path(os.environ.get("POSTHORN_BIN", REPO_ROOT / "target" / "release" / "posthorn"))


def bench_binary() -> Path:
    return Path(os.environ.get("POSTHORN_BENCH_BIN",
                               REPO_ROOT / "target" / "release" / "posthorn-bench"))


def require_binaries(*paths: Path) -> None:
    """Fails early, naming the command that provides what is missing."""
    missing = [path for path in paths if not (path.is_file() and os.access(path, os.X_OK))]
    if missing:
        names = ", ".join(str(path) for path in missing)
        raise BenchError(f"missing {names}: run bench/install (or set POSTHORN_BIN / "
                         f"POSTHORN_BENCH_BIN)")


def say(message: str) -> None:
    """Progress for the user: stderr, so stdout holds only the table."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_greeting(port: int, timeout: float, alive: Callable[[], bool]) -> None:
    """Waits until 127.0.0.1:port accepts a connection and greets with 220; `alive`
    says whether the server is still worth waiting for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise BenchError(f"the server for port {port} exited before greeting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as probe:
                if probe.recv(512).startswith(b"220"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise BenchError(f"nothing greets with 220 on 127.0.0.1:{port} after {timeout:.0f}s")


_workdir: Path | None = None


def workdir() -> Path:
    """This run's scratch directory under /tmp (certificates, counts, logs), made on first
    use and removed at cleanup. Mode 755: Postfix's unprivileged processes read below it."""
    global _workdir
    if _workdir is None:
        made = Path(tempfile.mkdtemp(prefix="posthorn-bench-"))
        made.chmod(0o755)
        cleanup.add(f"remove {made}", lambda: remove_directory(made))
        _workdir = made
    return _workdir


def remove_directory(directory: Path) -> None:
    """Removes a scratch directory, unless BENCH_KEEP=1 asks to keep them for a look."""
    if os.environ.get("BENCH_KEEP") == "1":
        say(f"kept {directory} (BENCH_KEEP=1)")
        return
    shutil.rmtree(directory, ignore_errors=True)


class Cleanup:
    """Steps to run at the end, last registered first; each runs once."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], None]]] = []

    def add(self, what: str, step: Callable[[], None]) -> Callable[[], None]:
        self._steps.append((what, step))
        return step

    def discard(self, step: Callable[[], None]) -> None:
        self._steps = [(what, s) for what, s in self._steps if s is not step]

    def run_all(self) -> None:
        while self._steps:
            what, step = self._steps.pop()
            try:
                step()
            except Exception as error:  # cleanup goes on whatever one step does
                say(f"cleanup: {what} failed: {error}")


cleanup = Cleanup()


def start_process(command: list[str], *, what: str, log: Path | None = None,
                  stdin: int | None = subprocess.DEVNULL,
                  stdout: int | None = None) -> subprocess.Popen:
    """Starts `command` in its own session (a Ctrl-C reaches only this script, which
    then stops it) and registers its stop with `cleanup`."""
    log_file = open(log, "ab") if log is not None else subprocess.DEVNULL
    try:
        process = subprocess.Popen(command, stdin=stdin,
                                   stdout=stdout if stdout is not None else log_file,
                                   stderr=log_file, start_new_session=True)
    finally:
        if log is not None:
            log_file.close()
    cleanup.add(what, lambda: stop_process(process))
    return process


def stop_process(process: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, then SIGKILL after `timeout`; a no-op for a process that has exited."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_main(main: Callable[[], int]) -> None:
    """Runs a script's `main`, always cleaning up; exits 130 on Ctrl-C / SIGTERM and 1 on
    a `BenchError` (its message on stderr, no traceback)."""
    signal.signal(signal.SIGINT, _exit_on_signal)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    code = 1
    try:
        code = main()
    except KeyboardInterrupt:
        say("interrupted: cleaning up")
        code = 130
    except BenchError as error:
        say(f"error: {error}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cleanup.run_all()
    sys.exit(code)
