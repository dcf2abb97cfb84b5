"""Remote faults for the robustness tests (issue 7, points 5 and 6).

`FaultyPeer(host, port, fault)` is a plain SMTP server (no STARTTLS) that misbehaves as
`fault` says, and can be switched to another fault (or `Fault.HEALTHY`) while the
daemon under test keeps retrying:

- `RESET`: resets the TCP connection (RST) when MAIL arrives;
- `GREETING_421`, `RCPT_421`, `DATA_421`: `421 4.3.2` as the greeting, to RCPT, or after
  the final dot, then closes;
- `SILENT_AFTER_DOT`: takes the whole message and never answers the final dot;
- `ABORT_AFTER_DOT`: takes the whole message and closes without answering;
- `SLOW`: every reply (the greeting too) comes `delay` seconds late;
- `HANG`: accepts the connection and never says anything.

A message counts as received (`messages()`) only when it got `250`. Connection times are
in `connections()[i].opened_at` (time.monotonic()), which is how retry spacing is seen.

`SilentDns(upstream)` is a DNS front for a `dns_server.DnsServer`: while `silent` it
swallows every query over UDP and TCP (a resolver timeout); otherwise it passes them on.
"""

from __future__ import annotations

import enum
import socket
import struct
import threading
import time

from peers import ReceivedMessage
from tls_peers import ScriptedSmtpServer, _Channel, _Transaction

IO_TIMEOUT = 10.0


class Fault(enum.Enum):
    HEALTHY = "healthy"
    RESET = "reset"
    GREETING_421 = "greeting_421"
    RCPT_421 = "rcpt_421"
    DATA_421 = "data_421"
    SILENT_AFTER_DOT = "silent_after_dot"
    ABORT_AFTER_DOT = "abort_after_dot"
    SLOW = "slow"
    HANG = "hang"


CLOSING = "421 4.3.2 Service shutting down, closing transmission channel"


class FaultyPeer(ScriptedSmtpServer):
    """An SMTP server with one scripted fault at a time (`fault` may change any time)."""

    def __init__(self, host: str, port: int, fault: Fault, *, delay: float = 0.0,
                 hostname: str = "mx.faulty.example"):
        super().__init__(host, port, hostname=hostname, offer_starttls=False)
        self.fault = fault
        self.delay = delay
        self._open = 0
        self.most_open = 0  # the most connections open at once

    def _dialogue(self, channel: _Channel) -> None:
        with self._changed:
            self._open += 1
            self.most_open = max(self.most_open, self._open)
        try:
            self._faulty_dialogue(channel)
        finally:
            with self._changed:
                self._open -= 1

    def _faulty_dialogue(self, channel: _Channel) -> None:
        fault = self.fault
        if fault is Fault.HANG:
            self._wait_for_client_close(channel.sock)
            return
        if fault is Fault.GREETING_421:
            channel.reply(CLOSING)
            return
        if fault is Fault.SLOW:
            _slow_down(channel, self.delay)
        super()._dialogue(channel)

    def _simple_command(self, channel: _Channel, verb: str, argument: str,
                        transaction: _Transaction) -> _Transaction:
        fault = self.fault
        if verb == "MAIL" and fault is Fault.RESET:
            _reset(channel.sock)
            raise OSError("reset by the fault script")
        if verb == "RCPT" and fault is Fault.RCPT_421:
            channel.reply(CLOSING)
            raise OSError("closed after 421 to RCPT")
        return super()._simple_command(channel, verb, argument, transaction)

    def _receive_data(self, channel: _Channel, transaction: _Transaction) -> None:
        fault = self.fault
        if fault not in (Fault.DATA_421, Fault.SILENT_AFTER_DOT, Fault.ABORT_AFTER_DOT):
            super()._receive_data(channel, transaction)
            return
        channel.reply("354 End data with <CR><LF>.<CR><LF>")
        while channel.read_line(IO_TIMEOUT) not in (b".", None):
            pass
        if fault is Fault.DATA_421:
            channel.reply(CLOSING)
        elif fault is Fault.SILENT_AFTER_DOT:
            self._wait_for_client_close(channel.sock)
        raise OSError(f"no 250 after the final dot ({fault.value})")

    def received(self) -> list[ReceivedMessage]:
        """The messages answered with 250."""
        return self.messages()

    def connection_times(self) -> list[float]:
        return [connection.opened_at for connection in self.connections()]


def _slow_down(channel: _Channel, delay: float) -> None:
    reply = channel.reply

    def late_reply(text: str) -> None:
        time.sleep(delay)
        reply(text)

    channel.reply = late_reply  # type: ignore[method-assign]


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# --- DNS that does not answer ----------------------------------------------------------


class SilentDns:
    """Forwards DNS queries to `upstream` ("127.0.0.1:PORT") unless `silent` is set,
    in which case queries over UDP and TCP are read and never answered."""

    def __init__(self, upstream: str, silent: bool = True):
        host, _, port = upstream.rpartition(":")
        self.upstream = (host, int(port))
        self.silent = silent
        self.swallowed = 0
        self._stopping = threading.Event()
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", 0))
        self.port = self._udp.getsockname()[1]
        self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._tcp.bind(("127.0.0.1", self.port))
        self._tcp.listen(16)
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> "SilentDns":
        for target in (self._serve_udp, self._serve_tcp):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping.set()
        for sock in (self._udp, self._tcp):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in self._threads:
            thread.join(2)

    def _ask_upstream(self, query: bytes) -> bytes | None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream:
            upstream.settimeout(2.0)
            upstream.sendto(query, self.upstream)
            try:
                return upstream.recv(65535)
            except socket.timeout:
                return None

    def _serve_udp(self) -> None:
        while not self._stopping.is_set():
            try:
                query, client = self._udp.recvfrom(65535)
            except OSError:
                return
            if self.silent:
                self.swallowed += 1
                continue
            answer = self._ask_upstream(query)
            if answer is not None:
                self._udp.sendto(answer, client)

    def _serve_tcp(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._tcp.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._tcp_client, args=(sock,), daemon=True)
            thread.start()

    def _tcp_client(self, sock: socket.socket) -> None:
        with sock:
            sock.settimeout(IO_TIMEOUT)
            try:
                while True:
                    header = sock.recv(2)
                    if len(header) < 2:
                        return
                    (length,) = struct.unpack("!H", header)
                    query = b""
                    while len(query) < length:
                        chunk = sock.recv(length - len(query))
                        if not chunk:
                            return
                        query += chunk
                    if self.silent:
                        self.swallowed += 1
                        continue
                    answer = self._ask_upstream(query)
                    if answer is not None:
                        sock.sendall(struct.pack("!H", len(answer)) + answer)
            except OSError:
                return
