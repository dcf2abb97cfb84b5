"""Remote SMTP servers for delivery tests: the hosts Posthorn delivers *to*.

`SmtpSink` is an aiosmtpd server on 127.0.0.X:PORT that records every message
(envelope and exact content bytes) and every connection, and can be told how to
answer: `550` for one recipient, `451` for the first N attempts of another, optional
STARTTLS with a given certificate. Several sinks share one port on different loopback
addresses, which is how delivery by MX is tested (`outbound.port` is the same for
every MX host).

`PostfixPeer` is Debian's Postfix running as a real remote MX in a private directory
(`postfix -c DIR start`): its own main.cf/master.cf, queue, log file and virtual
Maildirs, with opportunistic STARTTLS. It must run as root, as Postfix's master does.

Neither fixture is a general-purpose server: no AUTH, no relaying onwards, loopback
only.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

WAIT_STEP = 0.05


class PeerError(AssertionError):
    """A peer did not start, or did not see what a test waited for."""


# --- SmtpSink -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as the sink accepted it: content is the bytes after dot-unstuffing,
    CRLF line ends kept."""
    sender: str  # "" for the null reverse-path <>
    recipients: tuple[str, ...]
    content: bytes
    connection: int  # index into `SmtpSink.connections()`
    tls_version: str | None  # e.g. "TLSv1.3"; None for plaintext


@dataclass
class SinkConnection:
    """One SMTP session that at least said EHLO/HELO (the controller's own start-up
    probe does not, and is not counted)."""
    index: int
    peer: Any
    helo: str
    tls_version: str | None = None
    messages: int = 0


@dataclass
class _Rule:
    reply: str
    times: int | None  # None: always
    used: int = 0

    def take(self) -> str | None:
        if self.times is not None and self.used >= self.times:
            return None
        self.used += 1
        return self.reply


@dataclass
class _SinkState:
    lock: threading.Condition = field(default_factory=threading.Condition)
    connections: dict[int, SinkConnection] = field(default_factory=dict)
    servers: list[Any] = field(default_factory=list)  # keeps ids in `connections` unique
    messages: list[ReceivedMessage] = field(default_factory=list)
    rcpt_rules: dict[str, list[_Rule]] = field(default_factory=dict)
    data_rules: list[_Rule] = field(default_factory=list)
    rcpt_times: dict[str, list[float]] = field(default_factory=dict)  # monotonic clock
    data_delay: float = 0.0  # seconds before the reply to the final dot


def _tls_version(session: Any) -> str | None:
    if session.ssl is None:
        return None
    ssl_object = session.ssl.get("ssl_object")
    return ssl_object.version() if ssl_object is not None else "unknown"


class _SinkHandler:
    """aiosmtpd handler hooks; they run in the controller's event-loop thread."""

    def __init__(self, state: _SinkState):
        self.state = state

    def _connection(self, server: Any, session: Any, helo: str) -> SinkConnection:
        with self.state.lock:
            connection = self.state.connections.get(id(server))
            if connection is None:
                connection = SinkConnection(len(self.state.connections), session.peer, helo)
                self.state.connections[id(server)] = connection
                self.state.servers.append(server)
            connection.helo = helo
            connection.tls_version = _tls_version(session)
            self.state.lock.notify_all()
            return connection

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self._connection(server, session, hostname)
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        session.host_name = hostname
        self._connection(server, session, hostname)
        return f"250 {server.hostname}"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.state.lock:
            self.state.rcpt_times.setdefault(address, []).append(time.monotonic())
            rules = self.state.rcpt_rules.get(address.lower(), []) + \
                self.state.rcpt_rules.get("*", [])
            reply = next((r for r in (rule.take() for rule in rules) if r is not None), None)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Recipient ok"

    async def handle_DATA(self, server, session, envelope):
        if self.state.data_delay:
            await asyncio.sleep(self.state.data_delay)
        with self.state.lock:
            reply = next((r for r in (rule.take() for rule in self.state.data_rules)
                          if r is not None), None)
            if reply is not None:
                return reply
            connection = self.state.connections[id(server)]
            connection.messages += 1
            self.state.messages.append(ReceivedMessage(
                sender="" if envelope.mail_from in (None, "<>") else envelope.mail_from,
                recipients=tuple(envelope.rcpt_tos),
                content=bytes(envelope.original_content or b""),
                connection=connection.index,
                tls_version=_tls_version(session),
            ))
            number = len(self.state.messages)
            self.state.lock.notify_all()
        return f"250 2.0.0 Ok: queued as SINK{number}"


class SmtpSink:
    """A recording SMTP server on `host:port`; a context manager (start/stop)."""

    def __init__(self, host: str, port: int, *, tls_certificate: Path | None = None,
                 tls_private_key: Path | None = None, hostname: str = "sink.test",
                 data_delay: float = 0.0):
        self.host = host
        self.port = port
        self.hostname = hostname
        self._state = _SinkState(data_delay=data_delay)
        tls_context = None
        if tls_certificate is not None:
            tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls_context.load_cert_chain(str(tls_certificate), str(tls_private_key))
        self._controller = Controller(
            _SinkHandler(self._state), hostname=host, port=port, server_hostname=hostname,
            tls_context=tls_context, require_starttls=False, decode_data=False,
            ready_timeout=10.0)
        self._running = False

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> "SmtpSink":
        self._controller.start()
        self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._controller.stop()
            self._running = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # behaviour

    def reply_to_rcpt(self, address: str, reply: str, times: int | None = None) -> None:
        """Answer `RCPT TO:<address>` (or any recipient for "*") with `reply`, always or
        only the first `times` times; after that the recipient is accepted. Rules for
        the same address apply in the order given."""
        if not reply[:3].isdigit():
            raise ValueError(f"not an SMTP reply: {reply!r}")
        with self._state.lock:
            self._state.rcpt_rules.setdefault(address.lower(), []).append(_Rule(reply, times))

    def reply_to_data(self, reply: str, times: int | None = None) -> None:
        """Answer the end of DATA with `reply` instead of accepting the message."""
        if not reply[:3].isdigit():
            raise ValueError(f"not an SMTP reply: {reply!r}")
        with self._state.lock:
            self._state.data_rules.append(_Rule(reply, times))

    # what it saw

    def messages(self) -> list[ReceivedMessage]:
        with self._state.lock:
            return list(self._state.messages)

    def connections(self) -> list[SinkConnection]:
        with self._state.lock:
            return sorted((SinkConnection(**vars(c)) for c in self._state.connections.values()),
                          key=lambda c: c.index)

    def rcpt_attempts(self, address: str) -> int:
        """How many times `RCPT TO:<address>` was sent, whatever the answer."""
        return len(self.rcpt_times(address))

    def rcpt_times(self, address: str) -> list[float]:
        """When each `RCPT TO:<address>` arrived (`time.monotonic()`)."""
        with self._state.lock:
            return list(self._state.rcpt_times.get(address, []))

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        """At least `count` messages, waiting up to `timeout` seconds for them."""
        deadline = time.monotonic() + timeout
        with self._state.lock:
            while len(self._state.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PeerError(f"sink {self.address}: {len(self._state.messages)} of "
                                    f"{count} messages after {timeout}s; RCPTs seen: "
                                    f"{ {a: len(t) for a, t in self._state.rcpt_times.items()} }")
                self._state.lock.wait(left)
            return list(self._state.messages)

    def wait_for_rcpt_attempts(self, address: str, count: int,
                               timeout: float = 10.0) -> int:
        """Waits until `RCPT TO:<address>` was sent at least `count` times."""
        deadline = time.monotonic() + timeout
        while self.rcpt_attempts(address) < count:
            if time.monotonic() > deadline:
                raise PeerError(f"sink {self.address}: {self.rcpt_attempts(address)} of "
                                f"{count} RCPT attempts for {address} after {timeout}s")
            time.sleep(WAIT_STEP)
        return self.rcpt_attempts(address)


# --- PostfixPeer ----------------------------------------------------------------------

POSTFIX = Path("/usr/sbin/postfix")
POSTFIX_START_TIMEOUT = 30.0

# Shared with the benchmarks' Postfix instance; `{listen}` is the smtpd address.
MASTER_CF = (Path(__file__).resolve().parent / "postfix-master.cf").read_text()


def _main_cf(directory: Path, domain: str, mailboxes: list[str], uid: int,
             gid: int, hostname: str) -> str:
    mailbox_map = ", ".join(f"{m}@{domain}={m}/" for m in mailboxes)  # "/": Maildir
    settings = {
        "compatibility_level": "3.6",
        "myhostname": hostname,
        "mydomain": hostname.partition(".")[2] or hostname,
        "queue_directory": directory / "queue",
        "data_directory": directory / "data",
        "mail_owner": "postfix",
        "setgid_group": "postdrop",
        # Postfix only binds inet_interfaces addresses assigned to an interface, and
        # 127.0.0.X (X > 1) is not: master.cf names the address for smtpd instead.
        "inet_interfaces": "loopback-only",
        "inet_protocols": "ipv4",
        "mydestination": "",
        "mynetworks": "127.0.0.0/8",
        "relay_domains": "",
        "alias_maps": "",
        "alias_database": "",
        "local_recipient_maps": "",
        "virtual_mailbox_domains": domain,
        "virtual_mailbox_base": directory / "mail",
        "virtual_mailbox_maps": f"inline:{{ {mailbox_map} }}",
        "virtual_uid_maps": f"static:{uid}",
        "virtual_gid_maps": f"static:{gid}",
        "smtpd_tls_security_level": "may",
        "smtpd_tls_chain_files": f"{directory / 'tls' / 'key.pem'}, "
                                 f"{directory / 'tls' / 'cert.pem'}",
        "smtpd_tls_loglevel": "1",
        "smtpd_tls_received_header": "yes",
        "maillog_file": directory / "postfix.log",
        "maillog_file_prefixes": directory,
        "smtputf8_enable": "no",
        "biff": "no",
        "smtpd_banner": "$myhostname ESMTP Postfix",
    }
    return "".join(f"{key} = {value}\n" for key, value in settings.items())


class PostfixPeer:
    """Postfix as a remote MX for `domain` on `host:port`, accepting mail for
    `mailboxes` (local parts) into Maildirs and refusing other recipients with 550.

    The directory is made under /tmp, not pytest's tmp_path: Postfix's unprivileged
    processes run as the `postfix` user and must traverse it."""

    def __init__(self, host: str, port: int, *, certificate: Path, private_key: Path,
                 domain: str = "dest.example", mailboxes: tuple[str, ...] = ("bob",),
                 hostname: str = "postfix-peer.test"):
        self.host = host
        self.port = port
        self.domain = domain
        self.hostname = hostname
        self.directory = Path(tempfile.mkdtemp(prefix="posthorn-postfix-"))
        self.directory.chmod(0o755)
        owner = pwd.getpwnam("nobody")
        (self.directory / "queue").mkdir(mode=0o755)  # Postfix fills it on start
        (self.directory / "data").mkdir(mode=0o700)
        shutil.chown(self.directory / "data", "postfix")
        (self.directory / "mail").mkdir()
        shutil.chown(self.directory / "mail", owner.pw_uid, owner.pw_gid)
        tls = self.directory / "tls"
        tls.mkdir(mode=0o700)
        shutil.copyfile(certificate, tls / "cert.pem")
        shutil.copyfile(private_key, tls / "key.pem")
        (self.directory / "main.cf").write_text(_main_cf(
            self.directory, domain, list(mailboxes), owner.pw_uid, owner.pw_gid,
            hostname))
        (self.directory / "master.cf").write_text(MASTER_CF.format(listen=f"{host}:{port}"))
        self._running = False

    @property
    def log_file(self) -> Path:
        return self.directory / "postfix.log"

    def __enter__(self) -> "PostfixPeer":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _postfix(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(POSTFIX), "-c", str(self.directory), *args],
                              capture_output=True, text=True, timeout=60)

    def start(self) -> "PostfixPeer":
        result = self._postfix("start")
        if result.returncode != 0:
            raise PeerError(f"postfix start failed ({result.returncode}):\n{result.stdout}"
                            f"{result.stderr}\n{self.log()}")
        self._running = True
        deadline = time.monotonic() + POSTFIX_START_TIMEOUT
        while not self._banner_ok():
            if time.monotonic() > deadline:
                self.stop()
                raise PeerError(f"postfix not answering on {self.host}:{self.port}:\n"
                                f"{self.log()}")
            time.sleep(0.1)
        return self

    def _banner_ok(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=2) as probe:
                return probe.recv(512).startswith(b"220 ")
        except OSError:
            return False

    def stop(self) -> None:
        """Stops Postfix and waits for its master to exit, then removes the directory."""
        if self._running:
            master = self._master_pid()
            self._postfix("stop")
            deadline = time.monotonic() + 15
            while master is not None and _alive(master) and time.monotonic() < deadline:
                time.sleep(0.1)
            if master is not None and _alive(master):
                self._postfix("abort")
            self._running = False
        shutil.rmtree(self.directory, ignore_errors=True)

    def _master_pid(self) -> int | None:
        """Postfix's master writes its pid here and leaves the file behind on exit."""
        try:
            return int((self.directory / "queue" / "pid" / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    # what it received

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def delivered(self, mailbox: str) -> list[bytes]:
        """Messages in `mailbox`'s Maildir (`new/`), oldest first."""
        new = self.directory / "mail" / mailbox / "new"
        if not new.is_dir():
            return []
        files = sorted(new.iterdir(), key=lambda path: path.stat().st_mtime_ns)
        return [path.read_bytes() for path in files]

    def wait_for_delivery(self, mailbox: str, count: int = 1,
                          timeout: float = 20.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.delivered(mailbox)) < count:
            if time.monotonic() > deadline:
                raise PeerError(f"postfix: {len(self.delivered(mailbox))} of {count} "
                                f"messages in {mailbox}'s Maildir after {timeout}s; log:\n"
                                f"{self.log()}")
            time.sleep(0.1)
        return self.delivered(mailbox)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
