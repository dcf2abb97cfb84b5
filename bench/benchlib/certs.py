"""The certificate both MTAs and the TLS sink present: ECDSA P-256, self-signed for
localhost and 127.0.0.1, made with the openssl CLI at run time (nothing to ship)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from .runtime import BenchError


@dataclass(frozen=True)
class Certificate:
    certificate: Path
    private_key: Path


def make_certificate(directory: Path) -> Certificate:
    directory.mkdir(parents=True, exist_ok=True)
    certificate, key = directory / "cert.pem", directory / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "ec",
               "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
               "-keyout", str(key), "-out", str(certificate), "-days", "7",
               "-subj", "/CN=localhost",
               "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"openssl could not make the certificate:\n{result.stderr}")
    key.chmod(0o600)
    return Certificate(certificate, key)
