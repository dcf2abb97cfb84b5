"""Fixtures for the end-to-end tests: the binary, test certificates and daemons that are
always cleaned up; for delivery, a DNS server, SMTP sinks and Postfix as remote MX hosts;
for outbound TLS, peers with scripted STARTTLS faults and working TLS peers (`tls_peers`);
for AUTH, daemons with submission listeners and users, and a real Dovecot (`dovecot`).
Entry point: `cargo build && pytest tests/e2e -x -q`."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dns_server import MX, A, DnsServer  # noqa: E402
from dovecot import Dovecot  # noqa: E402
from peers import PostfixPeer, SmtpSink  # noqa: E402
from posthorn_harness import (  # noqa: E402
    Daemon, delivery_config, free_port, merge, posthorn_binary)
from tls_certificates import TlsPeerCertificates, make_certificates  # noqa: E402
from tls_peers import BrokenStartTls, TlsPeer  # noqa: E402


@pytest.fixture(scope="session")
def posthorn_bin() -> Path:
    binary = posthorn_binary()
    if not binary.is_file():
        pytest.fail(f"{binary} does not exist: run `cargo build` first, or set POSTHORN_BIN")
    return binary


@pytest.fixture
def daemon_factory(posthorn_bin: Path, tmp_path: Path) -> Callable[..., Daemon]:
    """Makes started daemons; every one is killed at the end of the test, pass or fail."""
    made: list[Daemon] = []

    def make(listeners: tuple[str, ...] = ("mta",), config: dict | None = None,
             start: bool = True) -> Daemon:
        daemon = Daemon(tmp_path / f"daemon{len(made)}", listeners, config)
        made.append(daemon)
        return daemon.start() if start else daemon

    yield make
    for daemon in made:
        daemon.kill()


@pytest.fixture
def daemon(daemon_factory: Callable[..., Daemon]) -> Daemon:
    """One started daemon with a single `mta` listener and the default config."""
    return daemon_factory()


@dataclass(frozen=True)
class CertificateFiles:
    ca: Path
    certificate: Path
    private_key: Path

    def tls_config(self) -> dict:
        return {"tls": {"certificate": str(self.certificate),
                        "private_key": str(self.private_key)}}


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"openssl {' '.join(args)} failed:\n{result.stderr}")


SERVER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    """A test CA and a `localhost`/127.0.0.1 server certificate it signed, ECDSA P-256,
    made with the openssl CLI."""
    d = tmp_path_factory.mktemp("certs")
    ec = ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    _openssl("genpkey", *ec, "-out", "ca.key", cwd=d)
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=Posthorn Test CA",
             "-days", "2", "-out", "ca.pem",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _openssl("genpkey", *ec, "-out", "server.key", cwd=d)
    _openssl("req", "-new", "-key", "server.key", "-subj", "/CN=localhost",
             "-out", "server.csr", cwd=d)
    (d / "server.ext").write_text(SERVER_EXTENSIONS)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "server.ext",
             "-out", "server.pem", cwd=d)
    return CertificateFiles(ca=d / "ca.pem", certificate=d / "server.pem",
                            private_key=d / "server.key")


# --- delivery: DNS, remote MX hosts, a daemon that delivers by MX ---------------------

SENDER_DOMAIN = "sender.example"
SENDER_MX = "127.0.0.2"  # where DSNs to senders at SENDER_DOMAIN arrive


@pytest.fixture
def dns_server() -> DnsServer:
    """A running authoritative DNS server for the zones `example` and `test`, empty:
    tests add the records they need."""
    with DnsServer() as server:
        yield server


@pytest.fixture
def mx_port() -> int:
    """The port every MX host of a delivery test listens on (`outbound.port`)."""
    return free_port()


@pytest.fixture
def sink_factory(mx_port: int) -> Callable[..., SmtpSink]:
    """Makes started `SmtpSink`s on 127.0.0.X:mx_port (or a given port); all are stopped
    at the end of the test."""
    made: list[SmtpSink] = []

    def make(host: str, port: int | None = None, **options) -> SmtpSink:
        sink = SmtpSink(host, port if port is not None else mx_port, **options).start()
        made.append(sink)
        return sink

    yield make
    for sink in made:
        sink.stop()


@pytest.fixture
def sender_sink(dns_server: DnsServer, sink_factory: Callable[..., SmtpSink]) -> SmtpSink:
    """The MX of SENDER_DOMAIN, so DSNs to its senders are delivered and can be read."""
    dns_server.set(SENDER_DOMAIN, [MX(10, f"mx.{SENDER_DOMAIN}")])
    dns_server.set(f"mx.{SENDER_DOMAIN}", [A(SENDER_MX)])
    return sink_factory(SENDER_MX, hostname=f"mx.{SENDER_DOMAIN}")


@pytest.fixture
def delivery_daemon_factory(daemon_factory: Callable[..., Daemon], dns_server: DnsServer,
                            mx_port: int) -> Callable[..., Daemon]:
    """Like `daemon_factory`, for a daemon that delivers by MX through `dns_server` to
    hosts on `mx_port`, with fast retries; `config` overrides any of that."""

    def make(config: dict | None = None, start: bool = True,
             listeners: tuple[str, ...] = ("mta",)) -> Daemon:
        return daemon_factory(listeners=listeners, start=start,
                              config=delivery_config(dns_server.address, mx_port, config))

    return make


@pytest.fixture
def postfix_factory(mx_port: int, certs: CertificateFiles) -> Callable[..., PostfixPeer]:
    """Makes started Postfix peers (see `peers.PostfixPeer`) with the test certificate;
    all are stopped and removed at the end of the test."""
    made: list[PostfixPeer] = []

    def make(host: str, port: int | None = None, **options) -> PostfixPeer:
        peer = PostfixPeer(host, port if port is not None else mx_port,
                           certificate=certs.certificate, private_key=certs.private_key,
                           **options)
        made.append(peer)
        return peer.start()

    yield make
    for peer in made:
        peer.stop()


# --- outbound TLS (issue 4): scripted STARTTLS faults, TLS peers, their certificates ---


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> TlsPeerCertificates:
    """CA, mx.dest.example (CA-signed and self-signed), a client CA and a client
    certificate for posthorn.test, and a CA nobody has; ECDSA P-256."""
    return make_certificates(tmp_path_factory.mktemp("tls-peer-certs"))


@pytest.fixture
def dest_mx(dns_server: DnsServer) -> Callable[[str], None]:
    """`dest_mx("127.0.0.5")`: dest.example has the single MX mx.dest.example at that
    address."""

    def point(address: str) -> None:
        dns_server.set("dest.example", [MX(10, "mx.dest.example")])
        dns_server.set("mx.dest.example", [A(address)])

    return point


@pytest.fixture
def broken_starttls_factory(mx_port: int, tls_certs: TlsPeerCertificates
                            ) -> Callable[..., BrokenStartTls]:
    """Makes started `BrokenStartTls(host, mx_port, mode)` peers; all stopped at the
    end of the test."""
    made: list[BrokenStartTls] = []

    def make(host: str, mode: str, **options) -> BrokenStartTls:
        peer = BrokenStartTls(host, mx_port, mode,
                              certificate=tls_certs.trusted_certificate,
                              private_key=tls_certs.trusted_key,
                              unknown_client_ca=tls_certs.unknown_client_ca, **options)
        made.append(peer)
        return peer.start()

    yield make
    for peer in made:
        peer.stop()


@pytest.fixture
def tls_peer_factory(mx_port: int, tls_certs: TlsPeerCertificates
                     ) -> Callable[..., TlsPeer]:
    """Makes started `TlsPeer`s on host:mx_port with the CA-signed mx.dest.example
    certificate (`trusted=False`: the self-signed one); `request_client_cert=True`
    verifies client certificates against `tls_certs.client_ca`."""
    made: list[TlsPeer] = []

    def make(host: str, trusted: bool = True, request_client_cert: bool = False,
             **options) -> TlsPeer:
        certificate, key = ((tls_certs.trusted_certificate, tls_certs.trusted_key) if trusted
                            else (tls_certs.self_signed_certificate, tls_certs.self_signed_key))
        peer = TlsPeer(host, mx_port, certificate, key,
                       request_client_cert=request_client_cert,
                       ca_for_clients=tls_certs.client_ca if request_client_cert else None,
                       **options)
        made.append(peer)
        return peer.start()

    yield make
    for peer in made:
        peer.stop()


@pytest.fixture
def tls_daemon_factory(delivery_daemon_factory: Callable[..., Daemon],
                       tls_certs: TlsPeerCertificates, tmp_path: Path
                       ) -> Callable[..., Daemon]:
    """A delivering daemon (see `delivery_daemon_factory`) that trusts `tls_certs.ca`;
    `access` is the text of its access map (line numbers count from 1), `config` any
    other overrides (`{"outbound": {"starttls": "off"}}`)."""
    maps_made: list[Path] = []

    def make(config: dict | None = None, access: str | None = None,
             start: bool = True) -> Daemon:
        overrides = merge({"tls": {"ca_bundle": str(tls_certs.ca)}}, config or {})
        if access is not None:
            path = tmp_path / f"access{len(maps_made)}"
            path.write_text(access)
            maps_made.append(path)
            overrides = merge(overrides, {"maps": {"access": str(path)}})
        return delivery_daemon_factory(overrides, start=start)

    return make


# --- AUTH and submission (issue 5): users, a daemon that relays only after AUTH, Dovecot ---

# Users every `auth_daemon_factory` daemon has in its password file: one bare name (its
# own address is name@HOSTNAME) and one that is an address.
AUTH_USERS = {"alice": "alice-secret", "bob@client.test": "bob-secret"}

# 127.0.0.1, where the tests connect from, may relay only once authenticated.
RELAY_ONLY_AFTER_AUTH = {"relay": {"networks": ["192.0.2.0/24"]}}


@pytest.fixture
def auth_daemon_factory(daemon_factory: Callable[..., Daemon], certs: CertificateFiles,
                        tmp_path: Path) -> Callable[..., Daemon]:
    """Makes started daemons with `mta`, `submission` and `smtps` listeners, the test
    certificate, relaying only for 192.0.2.0/24, and `[auth]` from `auth`. With `users`
    (default AUTH_USERS) `auth.password_file` is set and each user added with
    `posthorn passwd add` before the start; `users=None` leaves the password file out
    (for `dovecot_socket`)."""
    files_made: list[Path] = []

    def make(auth: dict | None = None, users: dict[str, str] | None = AUTH_USERS,
             config: dict | None = None) -> Daemon:
        auth_table = dict(auth or {})
        if users is not None:
            password_file = tmp_path / f"passwd{len(files_made)}"
            files_made.append(password_file)
            auth_table["password_file"] = str(password_file)
        overrides = merge(merge(certs.tls_config(), RELAY_ONLY_AFTER_AUTH),
                          {"auth": auth_table})
        daemon = daemon_factory(listeners=("mta", "submission", "smtps"),
                                config=merge(overrides, config or {}), start=False)
        for user, password in (users or {}).items():
            daemon.add_user(user, password)
        return daemon.start()

    return make


@pytest.fixture
def dovecot() -> Dovecot:
    """A running Dovecot auth service with the user `dave` (`dovecot.DEFAULT_USERS`);
    its auth-client socket is `dovecot.socket`. Stopped at the end of the test."""
    with Dovecot() as server:
        yield server
