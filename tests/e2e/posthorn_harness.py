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

import base64
import email
import email.message
import email.policy
import json
import os
import re
import signal
import smtplib
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

    def add_user(self, user: str, password: str) -> None:
        """`posthorn passwd add USER -c CONFIG` with the password on stdin, as an
        administrator would pipe it (`echo PASSWORD | posthorn passwd add USER`)."""
        command = [str(posthorn_binary()), "passwd", "add", user, "-c", str(self.config_file)]
        result = subprocess.run(command, input=(password + "\n").encode(),
                                capture_output=True, timeout=30)
        if result.returncode != 0:
            raise HarnessError(
                f"{' '.join(command)} exited with {result.returncode}\n"
                f"stdout:\n{result.stdout.decode(errors='replace')}\n"
                f"stderr:\n{result.stderr.decode(errors='replace')}")

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


    # delivery tests

    def wait_until_gone(self, queue_id: str, timeout: float = 10.0) -> None:
        """Waits until `queue list` no longer has `queue_id` (delivered, bounced or
        expired)."""
        deadline = time.monotonic() + timeout
        while True:
            message = find_message(self.queue(), queue_id)
            if message is None:
                return
            if time.monotonic() > deadline:
                raise HarnessError(f"{queue_id} still queued after {timeout}s: {message}\n"
                                   f"last log lines:\n" + "\n".join(self.log_lines()[-20:]))
            time.sleep(0.1)

    def wait_for_recipient(self, queue_id: str, address: str, status: str,
                           timeout: float = 10.0, attempts: int = 0) -> dict[str, Any]:
        """Waits until `address` in message `queue_id` has `status` after at least
        `attempts` attempts; returns its entry from `queue list --json`."""
        deadline = time.monotonic() + timeout
        seen: Any = None
        while True:
            message = find_message(self.queue(), queue_id)
            if message is not None:
                seen = recipient_state(message, address)
                if seen.get("status") == status and seen.get("attempts", 0) >= attempts:
                    return seen
            if time.monotonic() > deadline:
                raise HarnessError(f"{address} in {queue_id} not {status} after {attempts}+ "
                                   f"attempts within {timeout}s; "
                                   f"last seen: {seen if message is not None else 'not queued'}")
            time.sleep(0.1)

    def sendmail(self, *args: str, stdin: bytes) -> subprocess.CompletedProcess:
        """`posthorn sendmail -C CONFIG ARGS` with `stdin` as the message; not checked.
        `-C` goes first: sendmail takes every argument after the first recipient as
        another recipient."""
        command = [str(posthorn_binary()), "sendmail", "-C", str(self.config_file), *args]
        return subprocess.run(command, input=stdin, capture_output=True, timeout=30)

    def log_matching(self, pattern: str) -> list[re.Match]:
        """Every log line matching `pattern`, in order (no waiting)."""
        regex = re.compile(pattern)
        return [match for match in map(regex.search, self.log_lines()) if match]


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
                 timeout: float = IO_TIMEOUT, source: str | None = None):
        # `source`: the loopback address to connect from (127.0.0.2 is another client IP).
        self.sock: socket.socket = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout,
            source_address=None if source is None else (source, 0))
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


# --- delivery: config, submission, waiting on the queue, DSNs, log lines -----------

# The retry schedule every delivery test uses unless it says otherwise: short, so a
# retried delivery is seen within seconds.
FAST_RETRIES = {"retry_min": "1s", "retry_max": "2s"}


def delivery_config(nameserver: str, mx_port: int,
                    overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Config overrides for a daemon that delivers by MX: DNS from `nameserver`
    ("127.0.0.1:PORT"), every MX host contacted on `mx_port`, fast retries."""
    base = {
        "outbound": {"smarthost": "", "port": mx_port},
        "dns": {"nameservers": [nameserver]},
        "queue": dict(FAST_RETRIES),
    }
    return merge(base, overrides or {})


QUEUE_ID_IN_REPLY = re.compile(r"^2\.0\.0 (\S+) ")


def submit(port: int, sender: str, recipients: list[str], message: bytes,
           helo: str = "client.test") -> str:
    """Sends one message over SMTP and returns the queue id from the `250` reply."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname=helo, timeout=IO_TIMEOUT) as smtp:
        return _send_one(smtp, sender, recipients, message)


def submit_many(port: int, messages: list[tuple[str, list[str], bytes]],
                helo: str = "client.test") -> list[str]:
    """Several messages over one SMTP session, as fast as the server takes them."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname=helo, timeout=IO_TIMEOUT) as smtp:
        return [_send_one(smtp, *message) for message in messages]


def _send_one(smtp: smtplib.SMTP, sender: str, recipients: list[str], message: bytes) -> str:
    smtp.ehlo_or_helo_if_needed()
    code, reply = smtp.mail(sender)
    if code != 250:
        raise HarnessError(f"MAIL FROM:<{sender}>: {code} {reply!r}")
    for recipient in recipients:
        code, reply = smtp.rcpt(recipient)
        if code != 250:
            raise HarnessError(f"RCPT TO:<{recipient}>: {code} {reply!r}")
    code, reply = smtp.data(message)
    text = reply.decode(errors="replace")
    match = QUEUE_ID_IN_REPLY.match(text)
    if code != 250 or match is None:
        raise HarnessError(f"DATA: expected `250 2.0.0 ID ...`, got {code} {text!r}")
    return match.group(1)


def find_message(queue: list[dict[str, Any]], queue_id: str) -> dict[str, Any] | None:
    return next((message for message in queue if message.get("id") == queue_id), None)


def recipient_state(message: dict[str, Any], address: str) -> dict[str, Any]:
    for recipient in message.get("recipients", []):
        if recipient.get("address") == address:
            return recipient
    raise HarnessError(f"no recipient {address} in {message}")


LOG_FIELD_SEPARATOR = re.compile(r", (?=[A-Za-z][A-Za-z_]*=)")
FIRST_LOG_FIELD = re.compile(r"(?:^|: )([A-Za-z][A-Za-z_]*)=")


def log_fields(line: str) -> list[tuple[str, str]]:
    """`... posthorn[PID]: ID: key=value, key=value` as ordered pairs, everything before
    the first field dropped. A value may hold commas and spaces (`stat=Sent (250 ok,
    queued)`): a field starts only where ", name=" does."""
    start = FIRST_LOG_FIELD.search(line)
    if start is None:
        raise HarnessError(f"no key=value field in {line!r}")
    rest = line[start.start(1):]
    fields = []
    for part in LOG_FIELD_SEPARATOR.split(rest):
        key, separator, value = part.partition("=")
        if not separator:
            raise HarnessError(f"not key=value: {part!r} in {line!r}")
        fields.append((key, value))
    return fields


def simple_message(sender: str, recipients: list[str], tag: str) -> bytes:
    """A message whose subject is `tag` and whose Message-ID and body name it."""
    return make_message(sender, recipients, tag, f"Body of {tag}.\n", f"{tag}@client.test")


@dataclass
class DeliveryReport:
    """A DSN (RFC 3464 multipart/report; report-type=delivery-status), parsed."""
    message: email.message.Message
    per_message: dict[str, str]
    recipients: list[dict[str, str]]  # per-recipient fields; keys lower-case, values
    # unfolded with runs of white space made one space

    def recipient(self, address: str) -> dict[str, str]:
        """The fields whose Final-Recipient is `rfc822; address`."""
        for fields in self.recipients:
            final = fields.get("final-recipient", "")
            if final.partition(";")[2].strip().strip("<>").lower() == address.lower():
                return fields
        raise HarnessError(f"no Final-Recipient {address} in DSN: {self.recipients}")

    def text(self) -> str:
        """Every text part, decoded: what a human reads."""
        return "\n".join(str(part.get_content()) for part in self.message.walk()
                         if part.get_content_type() == "text/plain")


def parse_dsn(content: bytes) -> DeliveryReport:
    message = email.message_from_bytes(content, policy=email.policy.default)
    if message.get_content_type() != "multipart/report":
        raise HarnessError(f"DSN is {message.get_content_type()}, not multipart/report:\n"
                           f"{content[:2000]!r}")
    if message.get_param("report-type") != "delivery-status":
        raise HarnessError(f"report-type is {message.get_param('report-type')!r}")
    status_parts = [part for part in message.walk()
                    if part.get_content_type() == "message/delivery-status"]
    if len(status_parts) != 1:
        raise HarnessError(f"{len(status_parts)} message/delivery-status parts in the DSN")
    blocks = [{key.lower(): " ".join(str(value).split()) for key, value in block.items()}
              for block in status_parts[0].get_payload()]
    if len(blocks) < 2:
        raise HarnessError(f"delivery-status without per-recipient fields: {blocks}")
    return DeliveryReport(message, blocks[0], blocks[1:])


def received_dsn(received: Any, to: str) -> DeliveryReport:
    """Checks that `received` (a `peers.ReceivedMessage`) is a DSN to `to` as SPEC says
    DSNs are sent: null envelope sender, `From: MAILER-DAEMON@<hostname>`; returns it
    parsed."""
    if received.sender != "":
        raise HarnessError(f"DSN with envelope sender <{received.sender}>, not <>")
    if tuple(received.recipients) != (to,):
        raise HarnessError(f"DSN to {received.recipients}, not to {to}")
    report = parse_dsn(received.content)
    author = str(report.message.get("From", ""))
    if f"MAILER-DAEMON@{HOSTNAME}".lower() not in author.lower():
        raise HarnessError(f"DSN From: {author!r}, not MAILER-DAEMON@{HOSTNAME}")
    return report


# --- outbound TLS (issue 4): `STARTTLS=client` and `to=` lines as fields ----------------


def to_lines(daemon: Daemon, queue_id: str, recipient: str) -> list[dict[str, str]]:
    """Every `ID: to=<recipient>` line of message `queue_id`, as fields, oldest first."""
    pattern = rf"{re.escape(queue_id)}: to=<{re.escape(recipient)}>,"
    return [dict(log_fields(match.string)) for match in daemon.log_matching(pattern)]


def wait_for_to_line(daemon: Daemon, queue_id: str, recipient: str, stat: str,
                     timeout: float = 10.0) -> dict[str, str]:
    """The first `to=` line of `recipient` in `queue_id` whose `stat=` starts with `stat`
    (`Sent`, `Deferred`), waiting for it to be written."""
    deadline = time.monotonic() + timeout
    while True:
        for fields in to_lines(daemon, queue_id, recipient):
            if fields.get("stat", "").startswith(stat):
                return fields
        if time.monotonic() > deadline:
            raise HarnessError(f"no {stat} to=<{recipient}> line for {queue_id} after "
                               f"{timeout}s; last lines:\n" + "\n".join(daemon.log_lines()[-20:]))
        time.sleep(0.05)


def starttls_client_lines(daemon: Daemon) -> list[dict[str, str]]:
    """Every `STARTTLS=client, ...` line as fields, oldest first."""
    return [dict(log_fields(match.string)) for match in daemon.log_matching(r"STARTTLS=client, ")]


# --- AUTH (issue 5): SASL PLAIN and LOGIN by hand, `AUTH=server` lines ----------------

# The `relay=` of a line about a test client: `[127.0.0.1]`, or `name [127.0.0.1]`.
LOOPBACK_RELAY = re.compile(r"^(?:\S+ )?\[127\.0\.0\.1\]$")
# The `reject=` of a failed AUTH: the quoted 535 reply.
REJECT_535 = re.compile(r'^"535 5\.7\.8 .*"$')


def trusting(ca: Path) -> ssl.SSLContext:
    """A client context that verifies the server against the test CA `ca`."""
    return ssl.create_default_context(cafile=str(ca))


def plain_response(user: str, password: str) -> str:
    """The base64 SASL PLAIN response (RFC 4616): empty authzid, authcid, password."""
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def auth_plain(client: RawSmtp, user: str, password: str) -> Reply:
    """`AUTH PLAIN <initial response>`; the final reply."""
    return client.command(f"AUTH PLAIN {plain_response(user, password)}")


def auth_login(client: RawSmtp, user: str, password: str) -> Reply:
    """`AUTH LOGIN`, then the user name and password each after a 334 challenge; the
    first reply that is not 334."""
    reply = client.command("AUTH LOGIN")
    for answer in (user, password):
        if reply.code != 334:
            return reply
        reply = client.command(base64.b64encode(answer.encode()).decode())
    return reply


def tls_submission_session(port: int, context: ssl.SSLContext, source: str | None = None
                           ) -> RawSmtp:
    """A RawSmtp on a submission listener after banner, EHLO, STARTTLS and EHLO again."""
    client = RawSmtp(port, source=source)
    client.expect(None, 220)
    client.ehlo()
    client.expect("STARTTLS", 220)
    client.starttls(context)
    client.ehlo()
    return client


def auth_server_lines(daemon: Daemon) -> list[dict[str, str]]:
    """Every `AUTH=server, ...` line as fields, oldest first."""
    return [dict(log_fields(match.string)) for match in daemon.log_matching(r"AUTH=server, ")]


def ehlo_auth_mechanisms(ehlo: Reply) -> set[str] | None:
    """The mechanisms of the `AUTH` keyword of an EHLO reply, None when not offered."""
    for line in ehlo.lines[1:]:
        keyword, _, mechanisms = line.partition(" ")
        if keyword.upper() == "AUTH":
            return set(mechanisms.upper().split())
    return None
