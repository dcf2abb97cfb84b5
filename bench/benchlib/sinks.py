"""The next hop every relayed message goes to, counting what it received.

`DebianSink` is Postfix's `smtp-sink -c`: its running counter (`sess=.. quit=.. mesg=N`,
one record per `\\r`, written whenever a message ends) is read live by a thread that
timestamps every change, so the moment the N-th message arrived is known to within
5 ms. `BenchSink` is `posthorn-bench sink`, which can do STARTTLS; it rewrites a
count file every 50 ms."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from pathlib import Path

from .certs import Certificate
from .runtime import (SMTP_SINK, BenchError, bench_binary, free_port, start_process,
                      stop_process, wait_for_greeting, workdir)

READY_TIMEOUT = 15.0
COUNTER = re.compile(rb"mesg=(\d+)")
# How often the counter is read: the N-th message's time is known to within this.
COUNTER_PERIOD = 0.005


class DebianSink:
    """`smtp-sink -c` on 127.0.0.1:port, throwing every message away."""

    def __init__(self, max_connections: int = 1000):
        self.port = free_port()
        self.max_connections = max_connections
        self.log = workdir() / f"smtp-sink-{self.port}.log"
        self.process: subprocess.Popen | None = None
        self._changes: list[tuple[float, int]] = [(time.monotonic(), 0)]
        self._changed = threading.Condition()

    def __enter__(self) -> "DebianSink":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> "DebianSink":
        # As root, smtp-sink insists on dropping privileges after binding.
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        command = [str(SMTP_SINK), "-c", *user, "-m", str(self.max_connections),
                   f"127.0.0.1:{self.port}", "1024"]
        self.process = start_process(command, what="stop smtp-sink", stdout=subprocess.PIPE,
                                     log=self.log)
        threading.Thread(target=self._read_counter, daemon=True).start()
        wait_for_greeting(self.port, READY_TIMEOUT, alive=self._alive)
        return self

    def _alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _read_counter(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        pending = b""
        while chunk := self.process.stdout.read1(65536):
            now = time.monotonic()
            records = (pending + chunk).split(b"\r")
            pending = records.pop()
            # Only the newest complete record matters, and reading at most every
            # COUNTER_PERIOD lets records pile up in the pipe: this thread would
            # otherwise wake for each message and take CPU from the MTA being measured.
            newest = next(filter(None, map(COUNTER.search, reversed(records))), None)
            if newest and int(newest.group(1)) != self.count():
                with self._changed:
                    self._changes.append((now, int(newest.group(1))))
                    self._changed.notify_all()
            time.sleep(COUNTER_PERIOD)

    def count(self) -> int:
        return self._changes[-1][1]

    def wait_for(self, messages: int, timeout: float) -> float:
        """The monotonic time at which the sink had received `messages`; raises
        `BenchError` if it has not within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.count() < messages:
                left = deadline - time.monotonic()
                if left <= 0 or not self._alive():
                    raise BenchError(f"smtp-sink received {self.count()} of {messages} "
                                     f"messages within {timeout:.0f}s"
                                     f"{'' if self._alive() else self._exit_story()}")
                self._changed.wait(min(left, 0.5))
            return next(at for at, count in self._changes if count >= messages)

    def _exit_story(self) -> str:
        code = self.process.returncode if self.process is not None else None
        try:
            said = self.log.read_text(errors="replace").strip()[-500:]
        except OSError:
            said = ""
        return f" (it exited with {code}: {said!r})"

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


class BenchSink:
    """`posthorn-bench sink` on 127.0.0.1:port, with STARTTLS when given a certificate."""

    def __init__(self, workdir: Path, certificate: Certificate | None = None):
        self.port = free_port()
        self.certificate = certificate
        self.count_file = workdir / f"sink-{self.port}.count"
        self.log = workdir / f"sink-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "BenchSink":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> "BenchSink":
        command = [str(bench_binary()), "sink", "--listen", f"127.0.0.1:{self.port}",
                   "--count-file", str(self.count_file)]
        if self.certificate is not None:
            command += ["--tls-cert", str(self.certificate.certificate),
                        "--tls-key", str(self.certificate.private_key)]
        self.process = start_process(command, what="stop posthorn-bench sink", log=self.log)
        wait_for_greeting(self.port, READY_TIMEOUT, alive=self._alive)
        return self

    def _alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def count(self) -> int:
        try:
            return int(self.count_file.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0  # not written yet

    def wait_for(self, messages: int, timeout: float) -> float:
        """As `DebianSink.wait_for`, to within the sink's 50 ms rewrite interval."""
        deadline = time.monotonic() + timeout
        while (received := self.count()) < messages:
            if time.monotonic() > deadline or not self._alive():
                raise BenchError(f"posthorn-bench sink received {received} of {messages} "
                                 f"messages within {timeout:.0f}s")
            time.sleep(0.01)
        return time.monotonic()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
