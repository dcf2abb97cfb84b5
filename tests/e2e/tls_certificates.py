"""The certificates of the outbound TLS tests, made at test time with the openssl CLI,
ECDSA P-256: a CA the daemon trusts (`tls.ca_bundle`) and an mx.dest.example
certificate it signed, a self-signed mx.dest.example certificate, a client CA with a
client certificate for the daemon's hostname, and a CA no client has a certificate
from (for a server that demands one)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from peers import PeerError


@dataclass(frozen=True)
class TlsPeerCertificates:
    """ECDSA P-256 files for the outbound TLS tests."""
    ca: Path  # give it to the daemon as `tls.ca_bundle`
    trusted_certificate: Path  # mx.dest.example, signed by `ca`
    trusted_key: Path
    self_signed_certificate: Path  # mx.dest.example, signed by itself: verify=FAIL
    self_signed_key: Path
    client_ca: Path  # what a `TlsPeer` verifies client certificates against
    client_certificate: Path  # the daemon's `tls.client_certificate`, signed by client_ca
    client_key: Path
    unknown_client_ca: Path  # a CA no client has a certificate from


MX_NAME = "mx.dest.example"
CLIENT_NAME = "posthorn.test"  # the daemon's hostname in the e2e harness
EC_KEY = ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")


def _openssl(directory: Path, *args: str) -> None:
    result = subprocess.run(["openssl", *args], cwd=directory, capture_output=True,
                            text=True, timeout=30)
    if result.returncode != 0:
        raise PeerError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


def _make_ca(directory: Path, name: str, subject: str) -> Path:
    _openssl(directory, "genpkey", *EC_KEY, "-out", f"{name}.key")
    _openssl(directory, "req", "-x509", "-new", "-key", f"{name}.key", "-subj",
             f"/CN={subject}", "-days", "2", "-out", f"{name}.pem",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return directory / f"{name}.pem"


def _make_leaf(directory: Path, name: str, dns_name: str, usage: str, ca: str) -> None:
    """`name`.pem/.key for `dns_name`, signed by the CA `ca` (`ca`.pem/.key)."""
    _openssl(directory, "genpkey", *EC_KEY, "-out", f"{name}.key")
    _openssl(directory, "req", "-new", "-key", f"{name}.key", "-subj", f"/CN={dns_name}",
             "-out", f"{name}.csr")
    (directory / f"{name}.ext").write_text(
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature\n"
        f"extendedKeyUsage = {usage}\n"
        f"subjectAltName = DNS:{dns_name}\n"
        "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n")
    _openssl(directory, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem",
             "-CAkey", f"{ca}.key", "-CAcreateserial", "-days", "2",
             "-extfile", f"{name}.ext", "-out", f"{name}.pem")


def _make_self_signed(directory: Path, name: str, dns_name: str) -> None:
    _openssl(directory, "genpkey", *EC_KEY, "-out", f"{name}.key")
    _openssl(directory, "req", "-x509", "-new", "-key", f"{name}.key", "-subj",
             f"/CN={dns_name}", "-days", "2", "-out", f"{name}.pem",
             "-addext", "basicConstraints=critical,CA:FALSE",
             "-addext", "keyUsage=critical,digitalSignature",
             "-addext", "extendedKeyUsage=serverAuth",
             "-addext", f"subjectAltName=DNS:{dns_name}")


def make_certificates(directory: Path) -> TlsPeerCertificates:
    """Every certificate the outbound TLS tests need, written into `directory`."""
    ca = _make_ca(directory, "ca", "Posthorn Outbound Test CA")
    _make_leaf(directory, "mx", MX_NAME, "serverAuth", "ca")
    _make_self_signed(directory, "self-signed", MX_NAME)
    client_ca = _make_ca(directory, "client-ca", "Posthorn Client Test CA")
    _make_leaf(directory, "client", CLIENT_NAME, "clientAuth, serverAuth", "client-ca")
    unknown_client_ca = _make_ca(directory, "unknown-client-ca", "A CA Nobody Has")
    return TlsPeerCertificates(
        ca=ca, trusted_certificate=directory / "mx.pem", trusted_key=directory / "mx.key",
        self_signed_certificate=directory / "self-signed.pem",
        self_signed_key=directory / "self-signed.key", client_ca=client_ca,
        client_certificate=directory / "client.pem", client_key=directory / "client.key",
        unknown_client_ca=unknown_client_ca)
