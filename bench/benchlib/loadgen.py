"""The load generators.

- `smtp_source`: Debian's `smtp-source` (plaintext only), timed from outside.
- `BenchSource`: `posthorn-bench source`, which does STARTTLS, open-loop rates and records
  acceptance latency (final ".\\r\\n" written -> reply read); it prints one JSON object.
- `IdleConnections`: `posthorn-bench idle`, holding connections open until released."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .runtime import SMTP_SOURCE, BenchError, bench_binary, cleanup, start_process, stop_process

SENDER = "bench@source.test"
RECIPIENT = "rcpt@dest.example"


@dataclass
class SourceRun:
    """One load-generator run: `ok` when every message was accepted in time;
    `report` is posthorn-bench's JSON (empty for smtp-source)."""
    ok: bool
    elapsed_seconds: float
    error: str = ""
    report: dict[str, Any] = field(default_factory=dict)


def smtp_source(port: int, *, messages: int, sessions: int, size: int, many: bool,
                timeout: float) -> SourceRun:
    """`smtp-source -s SESSIONS -l SIZE -m MESSAGES [-d]`: `-d` keeps each connection for
    many messages instead of one."""
    command = [str(SMTP_SOURCE), "-s", str(sessions), "-l", str(size), "-m", str(messages),
               *(["-d"] if many else []), "-f", SENDER, "-t", RECIPIENT,
               f"127.0.0.1:{port}"]
    started = time.monotonic()
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return SourceRun(False, time.monotonic() - started,
                         f"smtp-source did not finish within {timeout:.0f}s")
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        return SourceRun(False, elapsed, f"smtp-source exited with {result.returncode}: "
                                         f"{(result.stderr or result.stdout).strip()[-500:]}")
    return SourceRun(True, elapsed)


def bench_source_command(port: int, *, messages: int, sessions: int, size: int,
                         per_connection: int | None = None, starttls: bool = False,
                         rate: float | None = None, tls_resume: bool = False,
                         noops: int = 0) -> list[str]:
    command = [str(bench_binary()), "source", "--server", f"127.0.0.1:{port}",
               "--messages", str(messages), "--sessions", str(sessions),
               "--size", str(size), "--from", SENDER, "--to", RECIPIENT, "--json"]
    if per_connection is not None:
        command += ["--per-connection", str(per_connection)]
    if starttls:
        command.append("--starttls")
    if tls_resume:
        command.append("--tls-resume")
    if rate is not None:
        command += ["--rate", f"{rate:.1f}"]
    if noops:
        command += ["--noops", str(noops)]
    return command


class BenchSource:
    """A `posthorn-bench source` run, started in the background; `finish` waits for it."""

    def __init__(self, port: int, *, messages: int, sessions: int, size: int,
                 per_connection: int | None = None, starttls: bool = False,
                 rate: float | None = None, tls_resume: bool = False, noops: int = 0):
        self.command = bench_source_command(port, messages=messages, sessions=sessions,
                                            size=size, per_connection=per_connection,
                                            starttls=starttls, rate=rate,
                                            tls_resume=tls_resume, noops=noops)
        self.started = time.monotonic()
        self.process = start_process(self.command, what="stop posthorn-bench source",
                                     stdout=subprocess.PIPE)
        self._output: list[bytes] = []
        # Read stdout as it comes, so a long run never blocks on a full pipe.
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        while chunk := self.process.stdout.read1(65536):
            self._output.append(chunk)

    def running(self) -> bool:
        return self.process.poll() is None

    def finish(self, timeout: float) -> SourceRun:
        try:
            code = self.process.wait(timeout=max(timeout, 0.1))
        except subprocess.TimeoutExpired:
            stop_process(self.process)
            return SourceRun(False, time.monotonic() - self.started,
                             f"posthorn-bench source did not finish within {timeout:.0f}s")
        elapsed = time.monotonic() - self.started
        self._reader.join(timeout=5)
        output = b"".join(self._output).decode(errors="replace")
        try:
            report = json.loads(output.strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError):
            return SourceRun(False, elapsed, f"posthorn-bench source exited with {code} and "
                                             f"printed no JSON: {output[-500:]!r}")
        if code != 0:
            return SourceRun(False, elapsed, f"posthorn-bench source exited with {code}: "
                                             f"sent {report.get('sent')}, failed "
                                             f"{report.get('failed')}, connect errors "
                                             f"{report.get('connect_errors')}", report)
        return SourceRun(True, elapsed, report=report)


def bench_source(port: int, *, timeout: float, **options: Any) -> SourceRun:
    """A `posthorn-bench source` run in the foreground (options as `BenchSource`)."""
    return BenchSource(port, **options).finish(timeout)


class IdleConnections:
    """`posthorn-bench idle`: opens `connections` to the server (a `tls_fraction` of them
    upgraded with STARTTLS) and holds them until `release`."""

    def __init__(self, port: int, connections: int, tls_fraction: float):
        self.command = [str(bench_binary()), "idle", "--server", f"127.0.0.1:{port}",
                        "--connections", str(connections),
                        "--tls-fraction", str(tls_fraction)]
        self.process: subprocess.Popen | None = None

    def open(self, timeout: float) -> tuple[int, int]:
        """Starts the tool and waits for `ready <open> <tls>`; returns (open, tls)."""
        self.process = start_process(self.command, what="stop posthorn-bench idle",
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        cleanup.add("release idle connections", self.release)
        ready: list[str] = []
        reader = threading.Thread(target=self._read_ready, args=(ready,), daemon=True)
        reader.start()
        reader.join(timeout)
        if not ready:
            self.release()
            raise BenchError(f"posthorn-bench idle was not ready within {timeout:.0f}s")
        fields = ready[0].split()
        if len(fields) != 3 or fields[0] != "ready":
            raise BenchError(f"posthorn-bench idle said {ready[0]!r}, not `ready OPEN TLS`")
        return int(fields[1]), int(fields[2])

    def _read_ready(self, ready: list[str]) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            text = line.decode(errors="replace").strip()
            if text.startswith("ready"):
                ready.append(text)
                return
        ready.append("exited without `ready`")

    def release(self) -> None:
        """Closes its stdin (the tool then closes every connection), then stops it."""
        if self.process is None:
            return
        if self.process.stdin is not None and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop_process(self.process)
