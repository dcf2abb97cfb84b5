"""A throwaway Posthorn daemon (`posthorn serve`) for one benchmark: spool, config and
mail log in its own directory, relaying everything to `[127.0.0.1]:relay_port`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .memory import Memory, process_memory
from .mta import MtaSettings, count_files
from .runtime import (BenchError, free_port, posthorn_binary, say, start_process,
                      stop_process, wait_for_greeting)

# The config writer of the end-to-end tests' harness (standard library only).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "e2e"))
from posthorn_harness import to_toml  # noqa: E402

READY_TIMEOUT = 30.0
MIN_SESSIONS = 20_000


class PosthornInstance:
    name = "Posthorn"

    def __init__(self, directory: Path, settings: MtaSettings):
        self.directory = directory
        self.settings = settings
        self.port = free_port()
        self.spool = directory / "spool"
        self.log_file = directory / "maillog"
        self.config_file = directory / "posthorn.toml"
        self.config_file.write_text(self._config())
        self.process: subprocess.Popen | None = None

    def _config(self) -> str:
        settings = self.settings
        timeouts = ({"command": f"{settings.idle_timeout_seconds}s"}
                    if settings.idle_timeout_seconds else {})
        tables: dict[str, dict[str, object]] = {
            "relay": {"networks": ["127.0.0.0/8"]},
            "outbound": {"smarthost": f"[127.0.0.1]:{settings.relay_port}"},
            "tls": {"certificate": str(settings.certificate.certificate),
                    "private_key": str(settings.certificate.private_key)},
            # Admission is never what a benchmark measures: no rate limit, a cap far
            # above any load here.
            "limits": {"sessions": max(MIN_SESSIONS, settings.max_sessions),
                       "connections_per_ip_per_minute": 0,
                       "message_size": str(settings.message_size_limit)},
            "log": {"file": str(self.log_file)},
        }
        if timeouts:
            tables["timeouts"] = timeouts
        return to_toml({"hostname": "posthorn-bench.test", "spool": str(self.spool),
                        **tables,
                        "listener": [{"address": f"127.0.0.1:{self.port}", "kind": "mta"}]})

    def start(self) -> "PosthornInstance":
        command = [str(posthorn_binary()), "serve", "-c", str(self.config_file)]
        self.process = start_process(command, what="stop posthorn",
                                     log=self.directory / "stderr.log")
        try:
            wait_for_greeting(self.port, READY_TIMEOUT,
                              alive=lambda: self.process is not None
                              and self.process.poll() is None)
        except BenchError as error:
            raise BenchError(f"posthorn did not start: {error}\n{self.stderr_tail()}")
        say(f"posthorn listening on 127.0.0.1:{self.port} (pid {self.process.pid}, "
            f"{self.directory})")
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=20)

    @property
    def pid(self) -> int:
        if self.process is None:
            raise BenchError("posthorn is not started")
        return self.process.pid

    def memory(self) -> Memory | None:
        return process_memory(self.pid)

    def describe_memory(self) -> str:
        return "VmRSS and Pss of the daemon process"

    def queue_size(self) -> int:
        return count_files(self.spool / "queue")

    def delivered_count(self) -> int:
        """`stat=Sent` lines in its mail log: deliveries it logged as done."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return 0
        return text.count(" stat=Sent ")

    def stderr_tail(self) -> str:
        try:
            text = (self.directory / "stderr.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-20:])
