"""`posthorn check` (SPEC section 1): certificates made at test time with the openssl CLI
(ECDSA P-256) in configs built per test; exit 0 clean, 1 warnings only, 78 errors, and
each finding names its file (and line where there is one).

The seed behind the client-certificate check: Microsoft dropped mail from a sendmail
whose client certificate named mx.example.com while it said EHLO mx1.example.com."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from posthorn_harness import to_toml

EHLO = "mx1.example.com"
EC = ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")

# `openssl ca` is how openssl 3.0 sets arbitrary validity dates (an expired certificate).
CA_CONFIG = """\
[ca]
default_ca = selfsign
[selfsign]
database = ./index.txt
new_certs_dir = ./issued
serial = ./serial
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
commonName = supplied
"""


def openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"openssl {' '.join(args)} failed:\n{result.stderr}")


def make_pair(directory: Path, name: str, dns_names: list[str], days: int = 365,
              dates: tuple[str, str] | None = None) -> tuple[Path, Path]:
    """A self-signed certificate for `dns_names` (SAN; CN the first) and its key."""
    key, certificate = directory / f"{name}.key", directory / f"{name}.pem"
    openssl("genpkey", *EC, "-out", key.name, cwd=directory)
    subject = f"/CN={dns_names[0]}"
    san = "subjectAltName=" + ",".join(f"DNS:{n}" for n in dns_names)
    if dates is None:
        openssl("req", "-x509", "-new", "-key", key.name, "-subj", subject, "-addext", san,
                "-days", str(days), "-out", certificate.name, cwd=directory)
        return certificate, key
    ca_dir = directory / f"{name}-ca"
    (ca_dir / "issued").mkdir(parents=True)
    (ca_dir / "index.txt").write_text("")
    (ca_dir / "serial").write_text("01\n")
    (ca_dir / "ca.cnf").write_text(CA_CONFIG)
    openssl("req", "-new", "-key", str(key), "-subj", subject, "-addext", san,
            "-out", "request.csr", cwd=ca_dir)
    openssl("ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", str(key),
            "-in", "request.csr", "-startdate", dates[0], "-enddate", dates[1],
            "-out", str(certificate), cwd=ca_dir)
    return certificate, key


def write_config(directory: Path, **tables) -> Path:
    config = {"hostname": EHLO, "spool": str(directory / "spool"), **tables}
    path = directory / "posthorn.toml"
    path.write_text(to_toml(config))
    return path


def client_config(directory: Path, certificate: Path, key: Path) -> Path:
    return write_config(directory, tls={"client_certificate": str(certificate),
                                        "client_private_key": str(key)})


def run_check(posthorn_bin: Path, config: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(posthorn_bin), "check", "-c", str(config), *extra],
                          capture_output=True, text=True, timeout=30)


def findings(posthorn_bin: Path, config: Path) -> tuple[int, list[dict]]:
    """The exit code and the findings of `posthorn check --json`."""
    result = run_check(posthorn_bin, config, "--json")
    report = json.loads(result.stdout)
    return result.returncode, report["findings"]


def checks(found: list[dict]) -> list[tuple[str, str]]:
    return [(f["check"], f["severity"]) for f in found]


def test_client_certificate_for_another_name_warns_and_exits_1(posthorn_bin, tmp_path):
    certificate, key = make_pair(tmp_path, "client", ["mx.example.com"])
    config = client_config(tmp_path, certificate, key)

    result = run_check(posthorn_bin, config)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == f"{config}: 0 errors, 1 warning"
    warning = lines[0]
    assert warning.startswith(f"warning: {certificate}: the client certificate is for "
                              f"mx.example.com, which does not cover `hostname` {EHLO}")
    assert "Microsoft" in warning and "fix:" in warning

    code, found = findings(posthorn_bin, config)
    assert code == 1
    assert checks(found) == [("client-certificate-name", "warning")]
    assert found[0]["file"] == str(certificate)


def test_matching_client_certificate_exits_0(posthorn_bin, tmp_path):
    certificate, key = make_pair(tmp_path, "client", [EHLO])
    config = client_config(tmp_path, certificate, key)
    result = run_check(posthorn_bin, config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"{config}: no problems found\n"


def test_wildcard_client_certificate_covers_the_ehlo_name(posthorn_bin, tmp_path):
    certificate, key = make_pair(tmp_path, "client", ["*.example.com"])
    assert findings(posthorn_bin, client_config(tmp_path, certificate, key)) == (0, [])


def test_wildcard_does_not_cover_two_labels(posthorn_bin, tmp_path):
    certificate, key = make_pair(tmp_path, "client", ["*.com"])
    code, found = findings(posthorn_bin, client_config(tmp_path, certificate, key))
    assert (code, checks(found)) == (1, [("client-certificate-name", "warning")])


def test_expired_client_certificate_is_an_error(posthorn_bin, tmp_path):
    certificate, key = make_pair(tmp_path, "client", [EHLO],
                                 dates=("20200101000000Z", "20200201000000Z"))
    code, found = findings(posthorn_bin, client_config(tmp_path, certificate, key))
    assert (code, checks(found)) == (78, [("certificate-expired", "error")])
    assert "expired on 2020-02-01" in found[0]["problem"]


def test_certificate_expiring_within_30_days_is_a_warning(posthorn_bin, tmp_path):
    certificate, key = make_pair(tmp_path, "server", [EHLO], days=10)
    config = write_config(tmp_path, tls={"certificate": str(certificate),
                                         "private_key": str(key)})
    code, found = findings(posthorn_bin, config)
    assert (code, checks(found)) == (1, [("certificate-expiring", "warning")])


def test_key_of_another_certificate_is_an_error(posthorn_bin, tmp_path):
    certificate, _ = make_pair(tmp_path, "client", [EHLO])
    _, other_key = make_pair(tmp_path, "other", [EHLO])
    code, found = findings(posthorn_bin, client_config(tmp_path, certificate, other_key))
    assert (code, checks(found)) == (78, [("key-mismatch", "error")])
    assert found[0]["file"] == str(other_key)


def test_server_certificate_for_another_name_warns(posthorn_bin, tmp_path):
    certificate, key = make_pair(tmp_path, "server", ["localhost"])
    config = write_config(tmp_path, tls={"certificate": str(certificate),
                                         "private_key": str(key)})
    code, found = findings(posthorn_bin, config)
    assert (code, checks(found)) == (1, [("server-certificate-name", "warning")])


def test_client_certificate_without_its_key_is_an_error_at_its_line(posthorn_bin, tmp_path):
    certificate, _ = make_pair(tmp_path, "client", [EHLO])
    config = write_config(tmp_path, tls={"client_certificate": str(certificate)})
    line = config.read_text().splitlines().index(f'client_certificate = "{certificate}"') + 1
    code, found = findings(posthorn_bin, config)
    assert (code, checks(found)) == (78, [("certificate-pair-incomplete", "error")])
    assert (found[0]["file"], found[0]["line"]) == (str(config), line)


def test_map_errors_and_ca_bundle_are_reported_with_file_and_line(posthorn_bin, tmp_path):
    access = tmp_path / "access"
    access.write_text("# outbound TLS\nTry_TLS:broken.example NO\nTry_TLS:other.example MAYBE\n")
    mailertable = tmp_path / "mailertable"
    mailertable.write_text("example.com esmtp:[relay.example.com]:2525\nlocal.example local:x\n")
    empty_bundle = tmp_path / "bundle.pem"
    empty_bundle.write_text("")
    config = write_config(tmp_path, maps={"access": str(access), "mailertable": str(mailertable)},
                          tls={"ca_bundle": str(empty_bundle)})

    result = run_check(posthorn_bin, config)
    assert result.returncode == 78, result.stdout + result.stderr
    assert f"error: {access}:3: " in result.stdout
    assert f"error: {mailertable}:2: " in result.stdout
    assert f"error: {empty_bundle}: " in result.stdout
    assert result.stdout.splitlines()[-1] == f"{config}: 3 errors, 0 warnings"


def test_config_syntax_error_is_one_finding_with_its_line(posthorn_bin, tmp_path):
    config = tmp_path / "posthorn.toml"
    config.write_text(f'hostname = "{EHLO}"\n[outbound]\nstarttls = "sometimes"\n')
    code, found = findings(posthorn_bin, config)
    assert (code, checks(found)) == (78, [("config", "error")])
    assert (found[0]["file"], found[0]["line"]) == (str(config), 3)


def test_clean_config_exits_0_and_leaves_the_spool_as_it_was(posthorn_bin, tmp_path):
    access = tmp_path / "access"
    access.write_text("Try_TLS:broken.example NO\n")
    config = write_config(tmp_path, maps={"access": str(access)})
    result = run_check(posthorn_bin, config)
    assert (result.returncode, result.stdout) == (0, f"{config}: no problems found\n")
    # The spool was created to try it (write, fsync) and removed again.
    assert not (tmp_path / "spool").exists()


def test_spool_that_cannot_be_created_is_an_error_at_its_line(posthorn_bin, tmp_path):
    # Tests run as root, which chmod cannot stop: a path under a regular file can
    # never become a directory, for anyone.
    (tmp_path / "afile").write_text("")
    spool = tmp_path / "afile" / "spool"
    config = tmp_path / "posthorn.toml"
    config.write_text(f'hostname = "{EHLO}"\nspool = "{spool}"\n')
    code, found = findings(posthorn_bin, config)
    assert (code, checks(found)) == (78, [("spool-unwritable", "error")])
    assert (found[0]["file"], found[0]["line"]) == (str(config), 2)
    assert "mkdir -p" in found[0]["fix"]


def test_spool_on_tmpfs_is_a_warning(posthorn_bin, tmp_path):
    # /dev/shm is tmpfs on Linux: mail there would not survive a reboot.
    shm = Path("/dev/shm") / f"posthorn-check-{tmp_path.name}"
    shm.mkdir()
    try:
        config = tmp_path / "posthorn.toml"
        config.write_text(f'hostname = "{EHLO}"\nspool = "{shm}"\n')
        code, found = findings(posthorn_bin, config)
        assert (code, checks(found)) == (1, [("spool-volatile", "warning")])
        assert "tmpfs" in found[0]["problem"]
    finally:
        shm.rmdir()
