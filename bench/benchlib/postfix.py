"""A throwaway Postfix instance (Debian's package, `postfix -c DIR`) for one benchmark:
smtpd on 127.0.0.1:port relaying everything to `relayhost = [127.0.0.1]:relay_port`.

Durability is Postfix's default (nothing about fsync is touched). `default_process_limit`
is raised (1000 unless more sessions are asked for) so that 200 concurrent sessions are
all served, and the message size limit matches Posthorn's. Everything else is Postfix's
default, including delivery concurrency and connection caching."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from .memory import Memory, tree_memory
from .mta import MtaSettings, count_files
from .runtime import POSTFIX, BenchError, cleanup, free_port, say, wait_for_greeting

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
MIN_PROCESS_LIMIT = 1000
QUEUES = ("incoming", "active", "deferred", "maildrop")

# The e2e tests' master.cf template; `{listen}` is the smtpd address.
MASTER_CF = (Path(__file__).resolve().parents[2] / "tests" / "e2e"
             / "postfix-master.cf").read_text()


class PostfixInstance:
    name = "Postfix"

    def __init__(self, directory: Path, settings: MtaSettings):
        self.directory = directory
        self.settings = settings
        self.port = free_port()
        self.log_file = directory / "maillog"
        (directory / "queue").mkdir(mode=0o755)  # `postfix start` fills it
        (directory / "data").mkdir(mode=0o700)
        shutil.chown(directory / "data", "postfix")
        tls = directory / "tls"
        tls.mkdir(mode=0o700)
        shutil.copyfile(settings.certificate.certificate, tls / "cert.pem")
        shutil.copyfile(settings.certificate.private_key, tls / "key.pem")
        (directory / "main.cf").write_text(self._main_cf())
        (directory / "master.cf").write_text(MASTER_CF.format(listen=f"127.0.0.1:{self.port}"))
        self._running = False

    def _main_cf(self) -> str:
        settings = self.settings
        tls_level = "may" if settings.tls else "none"
        values: dict[str, object] = {
            "compatibility_level": "3.6",
            "myhostname": "postfix-bench.test",
            "queue_directory": self.directory / "queue",
            "data_directory": self.directory / "data",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mydestination": "",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": "",
            "relayhost": f"[127.0.0.1]:{settings.relay_port}",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "default_process_limit": max(MIN_PROCESS_LIMIT, settings.max_sessions),
            "message_size_limit": settings.message_size_limit,
            "smtpd_tls_security_level": tls_level,
            "smtpd_tls_chain_files": f"{self.directory / 'tls' / 'key.pem'}, "
                                     f"{self.directory / 'tls' / 'cert.pem'}",
            "smtp_tls_security_level": tls_level,
            "maillog_file": self.log_file,
            "maillog_file_prefixes": self.directory,
        }
        if settings.idle_timeout_seconds:
            values["smtpd_timeout"] = f"{settings.idle_timeout_seconds}s"
        return "".join(f"{key} = {value}\n" for key, value in values.items())

    def _postfix(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(POSTFIX), "-c", str(self.directory), *args],
                              capture_output=True, text=True, timeout=60)

    def start(self) -> "PostfixInstance":
        result = self._postfix("start")
        if result.returncode != 0:
            raise BenchError(f"postfix start failed ({result.returncode}):\n"
                             f"{result.stdout}{result.stderr}\n{self.log_tail()}")
        self._running = True
        cleanup.add("stop postfix", self.stop)
        try:
            wait_for_greeting(self.port, READY_TIMEOUT, alive=lambda: True)
        except BenchError as error:
            raise BenchError(f"postfix did not start: {error}\n{self.log_tail()}")
        say(f"postfix listening on 127.0.0.1:{self.port} (master pid {self.master_pid()}, "
            f"{self.directory})")
        return self

    def stop(self) -> None:
        """`postfix stop`, wait for the master to exit (`postfix abort` if it will not)."""
        if not self._running:
            return
        master = self.master_pid()
        self._postfix("stop")
        deadline = time.monotonic() + STOP_TIMEOUT
        while master is not None and _alive(master) and time.monotonic() < deadline:
            time.sleep(0.1)
        if master is not None and _alive(master):
            self._postfix("abort")
        self._running = False

    def master_pid(self) -> int | None:
        """The master writes its pid here (and leaves the file behind on exit)."""
        try:
            return int((self.directory / "queue" / "pid" / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def memory(self) -> Memory | None:
        master = self.master_pid()
        return tree_memory(master) if master is not None else None

    def describe_memory(self) -> str:
        return "Pss summed over the master and all its child processes"

    def queue_size(self) -> int:
        queue = self.directory / "queue"
        return count_files(*(queue / name for name in QUEUES))

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def delivered_count(self) -> int:
        """`status=sent` lines in its mail log: deliveries it logged as done."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return 0
        return text.count(" status=sent ")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
