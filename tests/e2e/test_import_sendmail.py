"""`posthorn import-sendmail` (SPEC section 1, issue 6): a sendmail `.mc` file in, a
Posthorn config on stdout, with a comment for each item that cannot be carried over.

The golden test converts the sendmail.mc of seed 002 (`golden/import_sendmail/seed002.mc`,
the .mc part of the seed verbatim) and compares the output with `seed002.toml`. After an
intended change of the output, regenerate it with

    POSTHORN_UPDATE_GOLDEN=1 pytest tests/e2e/test_import_sendmail.py

and review the diff. The converted config names files of the sendmail machine
(`/etc/mail/access`, certificates, the spool): to run `posthorn check` on it, the test
rewrites every absolute path in a setting (not in comments) to the same path under a
temporary directory and creates the files there."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

from test_check_command import make_pair

GOLDEN = Path(__file__).resolve().parent / "golden" / "import_sendmail"


def import_sendmail(posthorn_bin: Path, *args: str, cwd: Path | None = None,
                    ) -> subprocess.CompletedProcess:
    return subprocess.run([str(posthorn_bin), "import-sendmail", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=30)


def under(prefix: Path, config: str) -> str:
    """The config with each absolute path of a setting moved under `prefix`."""
    return re.sub(r'^([a-z_]+ = ")/', lambda m: f"{m.group(1)}{prefix}/", config,
                  flags=re.MULTILINE)


def check(posthorn_bin: Path, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(posthorn_bin), "check", "-c", str(config)],
                          capture_output=True, text=True, timeout=30)


def test_seed002_converts_to_the_golden_config(posthorn_bin):
    result = import_sendmail(posthorn_bin, "--mc", "seed002.mc", cwd=GOLDEN)
    assert result.returncode == 0, result.stderr
    golden = GOLDEN / "seed002.toml"
    if os.environ.get("POSTHORN_UPDATE_GOLDEN") == "1":
        golden.write_text(result.stdout)
    assert result.stdout == golden.read_text()


def test_seed002_conversion_says_what_it_did_and_did_not_carry_over(posthorn_bin):
    output = import_sendmail(posthorn_bin, "--mc", "seed002.mc", cwd=GOLDEN).stdout
    config = tomllib.loads(output)
    assert config["hostname"] == "subdomain.support.foo.com"
    # The two DAEMON_OPTIONS on port 25 of every address are one listener.
    assert config["listener"] == [{"address": "0.0.0.0:25", "kind": "mta"}]
    assert config["maps"] == {"access": "/etc/mail/access", "mailertable": "/etc/mail/mailertable"}
    assert config["outbound"] == {"connect_timeout": "1m"}
    lines = output.splitlines()
    for item in ("confBIND_OPTS", "confLOG_LEVEL", "STATUS_FILE", "ALIAS_FILE", "confQUEUE_LA",
                 "confREFUSE_LA", "UUCP_MAILER_MAX", "confUSERDB_SPEC", "local_procmail",
                 "virtusertable"):
        assert any(line.startswith("# not carried over: ") and item in line for line in lines), item
    # Lines that m4 drops (dnl) are not items: MAIL_HUB and MASQUERADE_AS are commented out.
    assert "MAIL_HUB" not in output and "MASQUERADE_AS" not in output


def test_seed002_output_passes_posthorn_check(posthorn_bin, tmp_path):
    output = import_sendmail(posthorn_bin, "--mc", str(GOLDEN / "seed002.mc")).stdout
    mail = tmp_path / "etc" / "mail"
    mail.mkdir(parents=True)
    (mail / "access").write_text("Try_TLS:broken.example NO\nConnect:192.0.2.1 REJECT\n")
    (mail / "mailertable").write_text("example.com esmtp:[relay.example.com]\n")
    config = tmp_path / "posthorn.toml"
    config.write_text(under(tmp_path, output))

    result = check(posthorn_bin, config)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert "error:" not in result.stdout


def test_certificates_and_client_options_carry_over_and_check_warns_on_the_name(
        posthorn_bin, tmp_path):
    """Seeds 000 and 001: the client certificate names another host than the EHLO name,
    and `CLIENT_OPTIONS(M=S)` turns STARTTLS off."""
    certificates = tmp_path / "etc" / "pki"
    certificates.mkdir(parents=True)
    make_pair(certificates, "client", ["mx.example.com"])
    make_pair(certificates, "server", ["mx1.example.com"])
    mc = tmp_path / "sendmail.mc"
    mc.write_text(
        "define(`confDOMAIN_NAME', `mx1.example.com')dnl\n"
        "define(`confSERVER_CERT', `/etc/pki/server.pem')dnl\n"
        "define(`confSERVER_KEY', `/etc/pki/server.key')dnl\n"
        "define(`confCLIENT_CERT', `/etc/pki/client.pem')dnl\n"
        "define(`confCLIENT_KEY', `/etc/pki/client.key')dnl  # and a comment\n"
        "define(`confAUTH_OPTIONS', `A p')dnl\n"
        "CLIENT_OPTIONS(`Family=inet, M=S, Addr=')dnl\n"
        "DAEMON_OPTIONS(`Port=smtp, Name=MTA')dnl\n"
        "DAEMON_OPTIONS(`Port=submission, Name=MSA, M=Ea')dnl\n"
        "DAEMON_OPTIONS(`Port=smtps, Name=TLSMTA, M=s')dnl\n")
    result = import_sendmail(posthorn_bin, "--mc", str(mc))
    assert result.returncode == 0, result.stderr
    converted = tomllib.loads(result.stdout)
    assert converted["outbound"]["starttls"] == "off"
    assert converted["tls"]["client_certificate"] == "/etc/pki/client.pem"
    assert [(l["address"], l["kind"]) for l in converted["listener"]] == [
        ("0.0.0.0:25", "mta"), ("0.0.0.0:587", "submission"), ("0.0.0.0:465", "smtps")]
    assert "only when a server asks" in result.stdout
    assert re.search(r"^# already: .*flag `p`: AUTH only over TLS", result.stdout, re.MULTILINE)

    config = tmp_path / "posthorn.toml"
    config.write_text(under(tmp_path, result.stdout))
    checked = subprocess.run([str(posthorn_bin), "check", "--json", "-c", str(config)],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode in (0, 1), checked.stdout + checked.stderr
    assert '"client-certificate-name"' in checked.stdout
    assert '"severity": "error"' not in checked.stdout


def test_map_files_given_are_checked_line_by_line(posthorn_bin, tmp_path):
    access = tmp_path / "access"
    access.write_text("Try_TLS:ok.example NO\nTry_TLS:bad.example MAYBE\n")
    mailertable = tmp_path / "mailertable"
    mailertable.write_text("example.com esmtp:[relay.example.com]:2525\n")
    mc = tmp_path / "sendmail.mc"
    mc.write_text("FEATURE(`access_db', `hash -o /etc/mail/access.db')dnl\n")
    result = import_sendmail(posthorn_bin, "--mc", str(mc), "--access", str(access),
                             "--mailertable", str(mailertable))
    assert result.returncode == 0, result.stderr
    assert tomllib.loads(result.stdout)["maps"] == {"access": str(access),
                                                   "mailertable": str(mailertable)}
    assert result.stderr.startswith(f"posthorn: warning: {access}:2: ")


def test_an_unclosed_quote_names_the_file_and_line(posthorn_bin, tmp_path):
    mc = tmp_path / "sendmail.mc"
    mc.write_text("dnl a comment\ndefine(`confCACERT’,` /etc/pki/ca.crt’)dnl\n")
    result = import_sendmail(posthorn_bin, "--mc", str(mc))
    assert result.returncode == 65
    assert result.stdout == ""
    assert result.stderr.startswith(f"posthorn: {mc}:2: ")
    assert "typographic" in result.stderr


def test_missing_files_exit_66(posthorn_bin, tmp_path):
    result = import_sendmail(posthorn_bin, "--mc", str(tmp_path / "absent.mc"))
    assert result.returncode == 66
    assert str(tmp_path / "absent.mc") in result.stderr
    mc = tmp_path / "sendmail.mc"
    mc.write_text("")
    result = import_sendmail(posthorn_bin, "--mc", str(mc), "--access", str(tmp_path / "nope"))
    assert result.returncode == 66
    assert str(tmp_path / "nope") in result.stderr
