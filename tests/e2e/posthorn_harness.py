"""Runs the real `posthorn` binary for end-to-end tests and talks SMTP to it.

`Daemon` owns one daemon: its config, spool and log live in a private directory;
it is started with `posthorn serve -c CONFIG` and inspected with the `queue`
subcommands, exactly as an administrator would. `RawSmtp` is a byte-exact SMTP
client for the tests that must control every CR and LF (smuggling, STARTTLS
injection, crash timing); the other tests use `smtplib` and `swaks`.

Outbound delivery is pointed at a closed loopback port, so every queued message
stays in the queue (pending or deferred) where the tests can look at it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
HOSTNAME = "posthorn.test"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0
IO_TIMEOUT = 10.0


class HarnessError(AssertionError):
    """The daemon or a CLI command did not behave as the contract says."""


def posthorn_binary() -> Path:
    return Path(os.environ.get("POSTHORN_BIN", REPO_ROOT / "target" / "debug" / "posthorn"))


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- TOML writing (the standard library only reads TOML) ---------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def to_toml(config: dict[str, Any]) -> str:
    """Top-level keys, then `[table]`s, then `[[array]]`s; one level of nesting, as
    Posthorn's config has."""
    lines: list[str] = []
    tables: list[tuple[str, dict]] = []
    arrays: list[tuple[str, list]] = []
    for key, value in config.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif _is_table_array(value):
            arrays.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for name, table in tables:
        lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    for name, items in arrays:
        for item in items:
            lines += ["", f"[[{name}]]"] + [f"{k} = {_toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`overrides` wins; tables are merged key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


# --- the daemon --------------------------------------------------------------------


@dataclass
class Listener:
    kind: str
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class Daemon:
    """One `posthorn serve` process with its own config, spool and mail log."""

    def __init__(self, workdir: Path, listeners: tuple[str, ...] = ("mta",),
                 config: dict[str, Any] | None = None):
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.spool = workdir / "spool"
        self.log_file = workdir / "mail.log"
        self.config_file = workdir / "posthorn.toml"
        self.listeners = [Listener(kind, free_port()) for kind in listeners]
        self.process: subprocess.Popen | None = None
        self._starts = 0
        base = {
            "hostname": HOSTNAME,
            "spool": str(self.spool),
            "listener": [{"address": l.address, "kind": l.kind} for l in self.listeners],
            "log": {"format": "sendmail", "file": str(self.log_file)},
            # Nothing listens there: deliveries defer and messages stay queued.
            "outbound": {"smarthost": f"[127.0.0.1]:{free_port()}"},
        }
        self.config = merge(base, config or {})
        self.config_file.write_text(to_toml(self.config))

    # lifecycle

    def port(self, kind: str = "mta") -> int:
        for listener in self.listeners:
            if listener.kind == kind:
                return listener.port
        raise HarnessError(f"no {kind} listener in {self.listeners}")

    @property
    def stderr_file(self) -> Path:
        return self.workdir / f"stderr-{self._starts}.log"

    def stderr(self) -> str:
        try:
            return self.stderr_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self) -> "Daemon":
        if self.process is not None and self.process.poll() is None:
            raise HarnessError("daemon already running")
        self._starts += 1
        with open(self.stderr_file, "wb") as stderr:
            self.process = subprocess.Popen(
                [str(posthorn_binary()), "serve", "-c", str(self.config_file)],
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
            )
        self._wait_until_listening()
        return self

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        waiting = list(self.listeners)
        while waiting:
            if self.process is not None and self.process.poll() is not None:
                raise HarnessError(
                    f"posthorn serve exited with {self.process.returncode} before listening "
                    f"on {[l.address for l in waiting]}; stderr:\n{self.stderr()}")
            if time.monotonic() > deadline:
                self.kill()
                raise HarnessError(
                    f"posthorn serve not listening on {[l.address for l in waiting]} after "
                    f"{READY_TIMEOUT:.0f}s; stderr:\n{self.stderr()}")
            waiting = [l for l in waiting if not _accepts(l.port)]
            if waiting:
                time.sleep(0.05)

    def stop(self) -> int:
        """SIGTERM, wait, and insist on the graceful exit status 0."""
        process = self._running()
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise HarnessError(
                f"posthorn serve ignored SIGTERM for {STOP_TIMEOUT:.0f}s; stderr:\n{self.stderr()}")
        if code != 0:
            raise HarnessError(f"posthorn serve exited with {code} on SIGTERM; "
                               f"stderr:\n{self.stderr()}")
        return code

    def kill(self) -> None:
        """SIGKILL: the crash of SPEC section 6."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.kill()
        self.process.wait()

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _running(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            raise HarnessError(f"daemon is not running; stderr:\n{self.stderr()}")
        return self.process

    # inspection through the CLI

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(posthorn_binary()), *args, "-c", str(self.config_file)]
        result = subprocess.run(command, capture_output=True, timeout=30)
        if check and result.returncode != 0:
            raise HarnessError(
                f"{' '.join(command)} exited with {result.returncode}\n"
                f"stdout:\n{result.stdout.decode(errors='replace')}\n"
                f"stderr:\n{result.stderr.decode(errors='replace')}")
        return result

    def queue(self) -> list[dict[str, Any]]:
        """`posthorn queue list --json`, parsed."""
        output = self.cli("queue", "list", "--json").stdout
        try:
            parsed = json.loads(output)
        except json.JSONDecodeError as error:
            raise HarnessError(f"queue list --json is not JSON ({error}):\n{output!r}")
        if not isinstance(parsed, list):
            raise HarnessError(f"queue list --json is not an array: {parsed!r}")
        return parsed

    def show(self, queue_id: str) -> bytes:
        """`posthorn queue show ID`: the envelope, then the message as stored."""
        return self.cli("queue", "show", queue_id).stdout

    def stored_message(self, queue_id: str) -> bytes:
        """The stored message alone: from the `Received:` line the server put on top."""
        shown = self.show(queue_id)
        start = shown.find(b"Received:")
        if start < 0:
            raise HarnessError(f"no Received: header in queue show {queue_id}:\n{shown!r}")
        return shown[start:]

    def log_lines(self) -> list[str]:
        try:
            return self.log_file.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def wait_for_log(self, pattern: str, timeout: float = 5.0) -> re.Match:
        """The first log line matching `pattern`, waiting for it to be written."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_lines():
                match = regex.search(line)
                if match:
                    return match
            if time.monotonic() > deadline:
                lines = "\n".join(self.log_lines()[-30:])
                raise HarnessError(f"no log line matches {pattern!r} after {timeout}s; "
                                   f"last lines of {self.log_file}:\n{lines}")
            time.sleep(0.05)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def messages_from(queue: list[dict[str, Any]], sender: str) -> list[dict[str, Any]]:
    return [message for message in queue if message.get("sender") == sender]


# --- a byte-exact SMTP client -------------------------------------------------------


@dataclass
class Reply:
    code: int
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def __str__(self) -> str:
        return "\n".join(f"{self.code} {line}" for line in self.lines) or str(self.code)


class RawSmtp:
    """SMTP over a plain socket, sending exactly the bytes it is given."""

    def __init__(self, port: int, *, implicit_tls: ssl.SSLContext | None = None,
                 timeout: float = IO_TIMEOUT):
        self.sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if implicit_tls is not None:
            self.sock = implicit_tls.wrap_socket(self.sock, server_hostname="localhost")
        self.buffer = b""

    def __enter__(self) -> "RawSmtp":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read_line(self) -> bytes:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed; unparsed bytes: {self.buffer!r}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.rstrip(b"\r")

    def read_reply(self) -> Reply:
        reply = Reply(code=0)
        while True:
            line = self._read_line().decode("utf-8", errors="replace")
            if len(line) < 3 or not line[:3].isdigit():
                raise HarnessError(f"not an SMTP reply line: {line!r}")
            code = int(line[:3])
            if reply.lines and code != reply.code:
                raise HarnessError(f"reply code changed mid-reply: {reply} then {line!r}")
            reply.code = code
            reply.lines.append(line[4:])
            if len(line) == 3 or line[3] == " ":
                return reply

    def command(self, line: str) -> Reply:
        self.send(line.encode() + b"\r\n")
        return self.read_reply()

    def expect(self, line: str | None, code: int) -> Reply:
        """Sends `line` (or nothing, for the banner) and insists on `code`."""
        reply = self.read_reply() if line is None else self.command(line)
        if reply.code != code:
            raise HarnessError(f"{line or 'banner'!r}: expected {code}, got {reply}")
        return reply

    def nothing_pending(self, wait: float = 0.5) -> bytes:
        """Bytes the server sent unasked within `wait` seconds (b"" when none)."""
        if self.buffer:
            return self.buffer
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return b""
        finally:
            self.sock.settimeout(IO_TIMEOUT)

    def starttls(self, context: ssl.SSLContext, server_hostname: str = "localhost") -> None:
        """Upgrades after a 220 reply to STARTTLS. Bytes already buffered would be
        plaintext the server sent after its 220: a protocol violation in itself."""
        if self.buffer:
            raise HarnessError(f"plaintext after the STARTTLS reply: {self.buffer!r}")
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)

    def ehlo(self, name: str = "client.test") -> Reply:
        return self.expect(f"EHLO {name}", 250)


def insecure_context() -> ssl.SSLContext:
    """For opportunistic TLS against the self-signed certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def make_message(sender: str, recipients: list[str], subject: str, body: str,
                 message_id: str) -> bytes:
    """A small RFC 5322 message with CRLF line endings."""
    headers = [
        f"From: <{sender}>",
        f"To: {', '.join(f'<{r}>' for r in recipients)}",
        f"Subject: {subject}",
        f"Message-ID: <{message_id}>",
        "Date: Mon, 01 Jan 2024 00:00:00 +0000",
    ]
    text = "\r\n".join(headers) + "\r\n\r\n" + body.replace("\n", "\r\n")
    return text.encode()
