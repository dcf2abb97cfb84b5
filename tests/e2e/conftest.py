"""Fixtures for the end-to-end tests: the binary, test certificates and daemons that are
always cleaned up. Entry point: `cargo build && pytest tests/e2e -x -q`."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from posthorn_harness import Daemon, posthorn_binary  # noqa: E402


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
