"""Remote SMTP servers with scripted STARTTLS faults, for the outbound TLS tests (issue 4).

Each peer is a small threaded SMTP server on 127.0.0.X:PORT (several share one port on
different loopback addresses, like `peers.SmtpSink`). It records every connection:
whether STARTTLS was attempted and what happened (`StartTls`), the negotiated TLS
version, the client certificate it received, and every message it accepted.

- `BrokenStartTls(host, port, mode)` offers STARTTLS and breaks it (`Fault`): `220` then
  garbage, `220` then close, a `454` refusal, or a real TLS 1.3 handshake that demands a
  client certificate from a CA nobody has (the client only notices at its next read,
  as with outlook.com in the seeds). A connection that does not send STARTTLS is
  served normally in plaintext. `offer_starttls=False` never advertises it.
- `TlsPeer(host, port, certificate, private_key, ...)` is a working STARTTLS server that
  can ask for a client certificate and record it.

After a message, a connection left idle for `REUSE_WINDOW` is closed, so the daemon's
connection cache never carries the next test message over an old connection: each
delivery shows up as its own connection. The certificates they use come from
`tls_certificates.make_certificates`.
"""

from __future__ import annotations

import enum
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from peers import PeerError, ReceivedMessage

IO_TIMEOUT = 10.0
REUSE_WINDOW = 0.3  # seconds an idle connection may wait for its next message
GIVE_UP_WAIT = 20.0  # how long a broken connection waits for the client to close it
STOP_TIMEOUT = 5.0
# Not a TLS record: 0x2a is no TLS content type, so any TLS client fails at once.
GARBAGE = b"*** this is not TLS, just plaintext noise after the 220 ***\r\n" * 4


class Fault(enum.Enum):
    """How `BrokenStartTls` answers STARTTLS."""
    GARBAGE = "garbage"  # 220, then non-TLS bytes in answer to the ClientHello
    CLOSE = "close"  # 220, then the connection is closed
    REFUSE = "refuse"  # 454 4.7.0, and the session goes on in plaintext
    DEMAND_CLIENT_CERT = "demand_client_cert"  # TLS 1.3, client certificate required


class StartTls(enum.Enum):
    """What happened to STARTTLS on one connection."""
    NOT_ATTEMPTED = "not attempted"
    NOT_OFFERED = "sent although not offered"  # answered 502, session goes on
    GARBAGE_SENT = "220, then garbage"
    CLOSED = "220, then closed"
    REFUSED = "refused with 454"
    HANDSHAKE_FAILED = "handshake failed"
    ESTABLISHED = "established"


@dataclass(frozen=True)
class PresentedCertificate:
    """The client certificate a peer received (and verified against its client CA)."""
    common_name: str
    dns_names: tuple[str, ...]


@dataclass
class PeerConnection:
    """One TCP connection to a peer, as far as it got."""
    index: int
    opened_at: float  # time.monotonic() at accept
    helo: str | None = None
    starttls: StartTls = StartTls.NOT_ATTEMPTED
    tls_error: str | None = None  # why the handshake failed, from the server side
    tls_version: str | None = None
    client_certificate: PresentedCertificate | None = None
    messages: int = 0
    closed: bool = False
    transcript: list[str] = field(default_factory=list)  # "C: ..." / "S: ..." lines

    @property
    def starttls_attempted(self) -> bool:
        return self.starttls is not StartTls.NOT_ATTEMPTED


class _Channel:
    """A socket (plain, later maybe TLS) with a line reader."""

    def __init__(self, sock: socket.socket, record: PeerConnection):
        self.sock = sock
        self.record = record
        self.buffer = b""

    def reply(self, text: str) -> None:
        self.record.transcript.append(f"S: {text}")
        self.sock.sendall(text.encode() + b"\r\n")

    def read_line(self, timeout: float) -> bytes | None:
        """One line without CRLF; None when the client closed or stayed silent."""
        self.sock.settimeout(timeout)
        while b"\n" not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                return None
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.rstrip(b"\r")

    def command(self, timeout: float) -> str | None:
        line = self.read_line(timeout)
        if line is not None:
            self.record.transcript.append(f"C: {line.decode(errors='replace')}")
            return line.decode(errors="replace")
        return None


@dataclass
class _Transaction:
    sender: str | None = None
    recipients: list[str] = field(default_factory=list)


def _address(argument: str) -> str:
    """`FROM:<a@b> SIZE=1` -> `a@b`."""
    start, end = argument.find("<"), argument.find(">")
    return argument[start + 1:end] if 0 <= start < end else ""


class ScriptedSmtpServer:
    """The common part: listener, SMTP dialogue, records. Subclasses answer STARTTLS."""

    def __init__(self, host: str, port: int, *, hostname: str = "mx.dest.example",
                 offer_starttls: bool = True):
        self.host = host
        self.port = port
        self.hostname = hostname
        self.offer_starttls = offer_starttls
        self._changed = threading.Condition()
        self._connections: list[PeerConnection] = []
        self._messages: list[ReceivedMessage] = []
        self._channels: list[_Channel] = []
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # lifecycle

    def __enter__(self):
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
        except OSError as error:
            listener.close()
            raise PeerError(f"{type(self).__name__} cannot listen on {self.address}: {error}")
        listener.listen(16)
        listener.settimeout(0.1)
        self._listener = listener
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._changed:
            channels = list(self._channels)
        for channel in channels:
            _shut(channel.sock)
        for thread in list(self._threads):
            thread.join(STOP_TIMEOUT)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True,
                                  name=f"{type(self).__name__}-{self.address}")
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            listener = self._listener
            if listener is None:
                return
            try:
                sock, _peer = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._spawn(self._serve, sock)

    def _serve(self, sock: socket.socket) -> None:
        with self._changed:
            record = PeerConnection(index=len(self._connections), opened_at=time.monotonic())
            self._connections.append(record)
            channel = _Channel(sock, record)
            self._channels.append(channel)
        try:
            self._dialogue(channel)
        except (OSError, ssl.SSLError) as error:
            record.transcript.append(f"!: {error}")
        finally:
            _shut(channel.sock)
            channel.sock.close()
            with self._changed:
                record.closed = True
                self._changed.notify_all()

    # the SMTP dialogue

    def _dialogue(self, channel: _Channel) -> None:
        channel.reply(f"220 {self.hostname} ESMTP {type(self).__name__}")
        transaction = _Transaction()
        while not self._stopping.is_set():
            idle_limit = REUSE_WINDOW if channel.record.messages else IO_TIMEOUT
            line = channel.command(idle_limit)
            if line is None:
                return
            verb, _, argument = line.partition(" ")
            verb = verb.upper()
            if verb == "QUIT":
                channel.reply("221 2.0.0 Bye")
                return
            if verb == "STARTTLS":
                if not self._answer_starttls(channel):
                    return
                transaction = _Transaction()
            elif verb == "DATA":
                self._receive_data(channel, transaction)
                transaction = _Transaction()
            else:
                transaction = self._simple_command(channel, verb, argument, transaction)

    def _simple_command(self, channel: _Channel, verb: str, argument: str,
                        transaction: _Transaction) -> _Transaction:
        if verb == "EHLO":
            self._changed_field(channel.record, helo=argument)
            keywords = [f"{self.hostname} greets {argument}", "8BITMIME"]
            if self.offer_starttls and channel.record.tls_version is None:
                keywords.append("STARTTLS")
            for keyword in keywords[:-1]:
                channel.reply(f"250-{keyword}")
            channel.reply(f"250 {keywords[-1]}")
            return _Transaction()
        if verb == "HELO":
            self._changed_field(channel.record, helo=argument)
            channel.reply(f"250 {self.hostname}")
            return _Transaction()
        if verb == "MAIL":
            channel.reply("250 2.1.0 Sender ok")
            return _Transaction(sender=_address(argument))
        if verb == "RCPT":
            if transaction.sender is None:
                channel.reply("503 5.5.1 MAIL first")
            else:
                transaction.recipients.append(_address(argument))
                channel.reply("250 2.1.5 Recipient ok")
            return transaction
        if verb in ("RSET", "NOOP"):
            channel.reply("250 2.0.0 Ok")
            return _Transaction() if verb == "RSET" else transaction
        channel.reply("502 5.5.2 Command not recognised")
        return transaction

    def _receive_data(self, channel: _Channel, transaction: _Transaction) -> None:
        if transaction.sender is None or not transaction.recipients:
            channel.reply("503 5.5.1 MAIL and RCPT first")
            return
        channel.reply("354 End data with <CR><LF>.<CR><LF>")
        lines: list[bytes] = []
        while True:
            line = channel.read_line(IO_TIMEOUT)
            if line is None:
                raise OSError("connection closed or silent inside DATA")
            if line == b".":
                break
            lines.append(line[1:] if line.startswith(b".") else line)
        content = b"".join(line + b"\r\n" for line in lines)
        with self._changed:
            record = channel.record
            record.messages += 1
            self._messages.append(ReceivedMessage(
                sender=transaction.sender or "", recipients=tuple(transaction.recipients),
                content=content, connection=record.index, tls_version=record.tls_version))
            number = len(self._messages)
            self._changed.notify_all()
        channel.reply(f"250 2.0.0 Ok: queued as PEER{number}")

    def _answer_starttls(self, channel: _Channel) -> bool:
        """Answers STARTTLS; False ends the connection."""
        if channel.record.tls_version is not None:
            channel.reply("503 5.5.1 TLS already active")
            return True
        if not self.offer_starttls:
            self._changed_field(channel.record, starttls=StartTls.NOT_OFFERED)
            channel.reply("502 5.5.1 STARTTLS not offered")
            return True
        return self._starttls(channel)

    def _starttls(self, channel: _Channel) -> bool:
        raise NotImplementedError

    def _handshake(self, channel: _Channel, context: ssl.SSLContext) -> bool:
        """`220`, then the server side of a real TLS handshake; records the result."""
        channel.reply("220 2.0.0 Ready to start TLS")
        channel.buffer = b""  # anything pipelined after STARTTLS is not trusted
        tls = context.wrap_socket(channel.sock, server_side=True,
                                  do_handshake_on_connect=False)
        channel.sock = tls
        tls.settimeout(IO_TIMEOUT)
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError) as error:
            self._changed_field(channel.record, starttls=StartTls.HANDSHAKE_FAILED,
                                tls_error=str(error))
            # OpenSSL has sent its alert; closing now could turn the client's next write
            # into a reset that hides the alert.
            self._wait_for_client_close(tls)
            return False
        self._changed_field(channel.record, starttls=StartTls.ESTABLISHED,
                            tls_version=tls.version(),
                            client_certificate=_presented(tls.getpeercert()))
        return True

    def _wait_for_client_close(self, sock: socket.socket) -> None:
        """Reads (the TCP bytes, under any TLS) until the client closes or gives up."""
        deadline = time.monotonic() + GIVE_UP_WAIT
        while time.monotonic() < deadline and not self._stopping.is_set():
            try:
                socket.socket.settimeout(sock, 0.2)
                if not socket.socket.recv(sock, 65536):
                    return
            except socket.timeout:
                continue
            except OSError:
                return

    def _changed_field(self, record: PeerConnection, **values) -> None:
        with self._changed:
            for name, value in values.items():
                setattr(record, name, value)
            self._changed.notify_all()

    # what it saw

    def connections(self) -> list[PeerConnection]:
        """Copies of the connection records, in the order the connections came."""
        with self._changed:
            return [replace(c, transcript=list(c.transcript)) for c in self._connections]

    def messages(self) -> list[ReceivedMessage]:
        with self._changed:
            return list(self._messages)

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        self._wait(lambda: len(self._messages) >= count, timeout,
                   f"{count} messages")
        return self.messages()

    def wait_for_connections(self, count: int, timeout: float = 10.0) -> list[PeerConnection]:
        """At least `count` connections, the first `count` of them finished."""
        self._wait(lambda: len(self._connections) >= count
                   and all(c.closed for c in self._connections[:count]), timeout,
                   f"{count} finished connections")
        return self.connections()

    def _wait(self, done, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PeerError(f"{type(self).__name__} {self.address}: not {what} "
                                    f"after {timeout}s; saw {self.describe()}")
                self._changed.wait(left)

    def describe(self) -> str:
        """The connections and transcripts, for assertion messages."""
        return "\n".join(
            f"#{c.index} starttls={c.starttls.value} tls={c.tls_version} "
            f"error={c.tls_error} messages={c.messages}: " + " | ".join(c.transcript)
            for c in self._connections) or "no connections"


class BrokenStartTls(ScriptedSmtpServer):
    """Offers STARTTLS and breaks it as `mode` says; plaintext sessions work."""

    def __init__(self, host: str, port: int, mode: Fault | str, *,
                 certificate: Path | None = None, private_key: Path | None = None,
                 unknown_client_ca: Path | None = None, **options):
        super().__init__(host, port, **options)
        self.mode = Fault(mode)
        self._context = None
        if self.mode is Fault.DEMAND_CLIENT_CERT:
            if certificate is None or private_key is None or unknown_client_ca is None:
                raise ValueError("demand_client_cert needs a certificate, its key and a "
                                 "client CA the client does not have")
            self._context = _server_context(certificate, private_key, tls13_only=True)
            self._context.verify_mode = ssl.CERT_REQUIRED
            self._context.load_verify_locations(cafile=str(unknown_client_ca))

    def _starttls(self, channel: _Channel) -> bool:
        if self.mode is Fault.REFUSE:
            self._changed_field(channel.record, starttls=StartTls.REFUSED)
            channel.reply("454 4.7.0 TLS not available")
            return True
        if self.mode is Fault.DEMAND_CLIENT_CERT:
            self._handshake(channel, self._context)
            return False  # established or not, this connection carries no mail
        channel.reply("220 2.0.0 Ready to start TLS")
        if self.mode is Fault.CLOSE:
            channel.record.transcript.append("S: (closes)")
            self._changed_field(channel.record, starttls=StartTls.CLOSED)
            return False
        self._send_garbage(channel)
        return False

    def _send_garbage(self, channel: _Channel) -> None:
        """Waits for the ClientHello so the garbage answers it rather than sitting in the
        client's SMTP reply buffer, then waits for the client to give up."""
        channel.sock.settimeout(IO_TIMEOUT)
        try:
            channel.sock.recv(65536)
        except socket.timeout:
            pass
        channel.sock.sendall(GARBAGE)
        channel.record.transcript.append(f"S: {len(GARBAGE)} bytes of garbage")
        self._changed_field(channel.record, starttls=StartTls.GARBAGE_SENT)
        self._wait_for_client_close(channel.sock)


class TlsPeer(ScriptedSmtpServer):
    """A working STARTTLS server with `certificate`; with `request_client_cert` it asks
    for a client certificate (optional) and verifies it against `ca_for_clients`."""

    def __init__(self, host: str, port: int, certificate: Path, private_key: Path, *,
                 request_client_cert: bool = False, ca_for_clients: Path | None = None,
                 **options):
        super().__init__(host, port, **options)
        self._context = _server_context(certificate, private_key, tls13_only=False)
        if request_client_cert:
            if ca_for_clients is None:
                raise ValueError("request_client_cert needs ca_for_clients: Python records "
                                 "only a client certificate it could verify")
            self._context.verify_mode = ssl.CERT_OPTIONAL
            self._context.load_verify_locations(cafile=str(ca_for_clients))

    def _starttls(self, channel: _Channel) -> bool:
        return self._handshake(channel, self._context)


def _server_context(certificate: Path, private_key: Path, *, tls13_only: bool):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3 if tls13_only else ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(certificate), str(private_key))
    return context


def _presented(peer_certificate: dict | None) -> PresentedCertificate | None:
    """Python's decoded certificate dict (empty or None when none came)."""
    if not peer_certificate:
        return None
    common_names = [value for rdn in peer_certificate.get("subject", ())
                    for key, value in rdn if key == "commonName"]
    dns_names = tuple(value for kind, value in peer_certificate.get("subjectAltName", ())
                      if kind == "DNS")
    return PresentedCertificate(common_names[0] if common_names else "", dns_names)


def _shut(sock: socket.socket) -> None:
    """Unblocks any thread reading `sock`; on a TLS socket it skips the TLS close (the
    thread may be inside the handshake), so it goes to the TCP socket directly."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass
