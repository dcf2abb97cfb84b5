"""A real Dovecot as the AUTH backend: only its auth service, with a passwd-file of test
users and the `auth-client` socket Postfix uses (SASL over Dovecot's auth-client protocol,
version 1.2), in a private directory. `AuthClient` speaks that protocol from Python, so
the fixture can be checked without Posthorn.

`Dovecot` runs `dovecot -F -c DIR/dovecot.conf` (foreground) and stops it with SIGTERM.
Dovecot answers FAIL after about half a second, and after failures from one remote IP
(`rip=`, or none given) delays that IP's next requests by 2, 4, 8... up to 15 seconds
(its "auth penalty"): a test that fails more than once gives each request its own `rip`.
As root, its auth process drops to Debian's `dovecot` user, so the directory and the
users file are made world-readable (test passwords only); as another user, every
service runs as that user. The directory is short and
under /tmp because a unix socket path may not exceed 107 bytes.
"""

from __future__ import annotations

import base64
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
IO_TIMEOUT = 10.0

DEFAULT_USERS = {"dave": "dovecot-secret"}

CONFIG = """\
# Written by tests/e2e/dovecot.py: Dovecot's auth service only.
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
protocols =
ssl = no
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
auth_mechanisms = plain login
# Posthorn offers AUTH only inside TLS; the auth-client protocol has no TLS of its own.
disable_plaintext_auth = no
auth_failure_delay = {failure_delay}
auth_verbose = yes

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/tmp
}}
service auth {{
  unix_listener {dir}/auth-client {{
    mode = 0666
  }}
}}
# chroot needs root; without it the fixture also runs as an ordinary user.
service anvil {{
  chroot =
}}
"""


class DovecotError(AssertionError):
    """Dovecot did not start, stop or answer as expected."""


def dovecot_binary() -> str:
    """`dovecot` from PATH, else Debian's /usr/sbin (not on a normal user's PATH)."""
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise DovecotError("dovecot not installed: run .ci/install (Debian: dovecot-core)")
    return found


def _service_accounts() -> dict[str, str]:
    """The internal user and group and the login user: Debian's as root; without root
    Dovecot cannot change user or group, so they are the current ones."""
    if os.geteuid() == 0:
        return {"internal_user": "dovecot", "internal_group": "dovecot",
                "login_user": "dovenull"}
    me = pwd.getpwuid(os.geteuid()).pw_name
    return {"internal_user": me, "internal_group": grp.getgrgid(os.getegid()).gr_name,
            "login_user": me}


class Dovecot:
    """One `dovecot -F` whose auth-client socket is `self.socket`; use as a context
    manager or call `start()` and `stop()`."""

    def __init__(self, users: dict[str, str] | None = None, failure_delay: str = "0"):
        # `failure_delay` is Dovecot's `auth_failure_delay` (default there: 2 secs);
        # 0 keeps throttling tests fast.
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.dir = Path(tempfile.mkdtemp(prefix="dovecot-", dir="/tmp"))
        self.dir.chmod(0o755)  # the auth process reads `users` as the dovecot user
        self.socket = self.dir / "auth-client"
        self.config_file = self.dir / "dovecot.conf"
        self.log_file = self.dir / "dovecot.log"
        self.process: subprocess.Popen | None = None
        self._stderr = None
        self._write_files(failure_delay)

    def _write_files(self, failure_delay: str) -> None:
        self.config_file.write_text(CONFIG.format(
            dir=self.dir, failure_delay=failure_delay, **_service_accounts()))
        users_file = self.dir / "users"
        users_file.write_text("".join(f"{user}:{password}\n"
                                      for user, password in self.users.items()))
        users_file.chmod(0o644)

    def __enter__(self) -> "Dovecot":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self) -> "Dovecot":
        self._stderr = open(self.dir / "stderr.log", "wb")
        self.process = subprocess.Popen(
            [dovecot_binary(), "-F", "-c", str(self.config_file)],
            stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr)
        self._wait_until_accepting()
        return self

    def _startup_output(self) -> str:
        stderr = (self.dir / "stderr.log").read_text(errors="replace")
        return f"stderr:\n{stderr}\nlog:\n{self.log()}"

    def _wait_until_accepting(self) -> None:
        """Waits for the socket; on failure stops Dovecot, removes its directory and
        raises with what it printed and logged."""
        deadline = time.monotonic() + READY_TIMEOUT
        while not _answers(self.socket):
            problem = None
            if self.process is not None and self.process.poll() is not None:
                problem = (f"dovecot exited with {self.process.returncode} before "
                           f"{self.socket} accepted")
            elif time.monotonic() > deadline:
                problem = f"{self.socket} not accepting after {READY_TIMEOUT:.0f}s"
            if problem is not None:
                output = self._startup_output()
                self.stop()
                raise DovecotError(f"{problem}; {output}")
            time.sleep(0.05)

    def stop(self) -> int | None:
        """SIGTERM to the master (it stops its services), wait, remove the directory;
        returns the master's exit status (None if it never ran). Safe to call twice."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise DovecotError(f"dovecot ignored SIGTERM for {STOP_TIMEOUT:.0f}s")
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        shutil.rmtree(self.dir, ignore_errors=True)
        return None if self.process is None else self.process.returncode

    def client(self) -> "AuthClient":
        return AuthClient(self.socket)


def _answers(path: Path) -> bool:
    """The auth process completes a handshake: not only the master's listener is up
    (a SIGTERM before the auth process is ready takes Dovecot seconds to obey)."""
    try:
        with AuthClient(path, timeout=1.0) as probe:
            probe.handshake()
            return True
    except (OSError, DovecotError):
        return False


# --- the auth-client protocol (Dovecot's doc: "Authentication Protocol") -----------


@dataclass
class Handshake:
    """What the server sends before DONE."""
    version: tuple[int, int]
    mechanisms: list[str] = field(default_factory=list)
    spid: str = ""


@dataclass
class AuthReply:
    """`OK`, `FAIL` or `CONT` for one request id, with its parameters."""
    verdict: str
    request_id: str
    params: dict[str, str]
    data: str = ""  # base64 challenge of a CONT


class AuthClient:
    """A client of the auth-client socket: handshake, then AUTH/CONT requests."""

    def __init__(self, path: Path, timeout: float = IO_TIMEOUT):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(path))
        except OSError:
            self.sock.close()
            raise
        self.buffer = b""
        self.next_id = 1

    def __enter__(self) -> "AuthClient":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.sock.close()

    def send_line(self, *fields: str) -> None:
        self.sock.sendall("\t".join(fields).encode() + b"\n")

    def read_line(self) -> list[str]:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise DovecotError(f"auth socket closed; unparsed: {self.buffer!r}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode().split("\t")

    def handshake(self) -> Handshake:
        """Sends VERSION and CPID, reads the server's handshake up to DONE."""
        self.send_line("VERSION", "1", "2")
        self.send_line("CPID", str(os.getpid()))
        result = Handshake(version=(0, 0))
        while (fields := self.read_line())[0] != "DONE":
            if fields[0] == "VERSION":
                result.version = (int(fields[1]), int(fields[2]))
            elif fields[0] == "MECH":
                result.mechanisms.append(fields[1])
            elif fields[0] == "SPID":
                result.spid = fields[1]
        return result

    def auth(self, mechanism: str, initial_response: bytes | None = None,
             **params: str) -> AuthReply:
        """`AUTH ID MECH service=smtp [secured] [resp=B64] [k=v...]`; returns the reply."""
        request_id = str(self.next_id)
        self.next_id += 1
        fields = ["AUTH", request_id, mechanism, "service=smtp", "secured"]
        fields += [f"{key}={value}" for key, value in params.items()]
        if initial_response is not None:
            fields.append("resp=" + base64.b64encode(initial_response).decode())
        self.send_line(*fields)
        return self.read_reply(request_id)

    def cont(self, request_id: str, response: bytes) -> AuthReply:
        self.send_line("CONT", request_id, base64.b64encode(response).decode())
        return self.read_reply(request_id)

    def read_reply(self, request_id: str) -> AuthReply:
        fields = self.read_line()
        if fields[0] not in ("OK", "FAIL", "CONT") or fields[1] != request_id:
            raise DovecotError(f"unexpected reply to request {request_id}: {fields}")
        if fields[0] == "CONT":
            return AuthReply("CONT", request_id, {}, data=fields[2] if len(fields) > 2 else "")
        params = dict(part.partition("=")[::2] for part in fields[2:])
        return AuthReply(fields[0], request_id, params)

    def plain(self, user: str, password: str, **params: str) -> AuthReply:
        """AUTH PLAIN with the credentials as the initial response."""
        return self.auth("PLAIN", f"\0{user}\0{password}".encode(), **params)
