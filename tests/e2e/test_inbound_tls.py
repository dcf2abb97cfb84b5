"""Inbound TLS per client (SPEC sections 3 and 4): `Srv_Features:` turning STARTTLS off
and asking for a client certificate (`verify=OK/FAIL/NO/NOT` on the `STARTTLS=server`
line), `TLS_Clt:` requirements checked at MAIL, and the inbound broken-TLS memory: a
client whose handshake failed is not offered STARTTLS until `tls-memory forget`."""

from __future__ import annotations

import json
import ssl
import time
from pathlib import Path

from posthorn_harness import HarnessError, RawSmtp

CLIENT = "127.0.0.1"


def daemon_with_access(daemon_factory, tmp_path: Path, certs, tls_certs, access: str,
                       extra: dict | None = None):
    """A daemon serving the `certs` certificate, verifying client certificates against
    the client CA of `tls_certs`, with `access` as its access map."""
    access_file = tmp_path / "access"
    access_file.write_text(access)
    config = certs.tls_config()
    config["tls"]["ca_bundle"] = str(tls_certs.client_ca)
    config["maps"] = {"access": str(access_file)}
    for key, value in (extra or {}).items():
        config[key] = value
    return daemon_factory(config=config)


def client_context(certs, certificate: Path | None = None, key: Path | None = None):
    context = ssl.create_default_context(cafile=str(certs.ca))
    if certificate is not None:
        context.load_cert_chain(str(certificate), str(key))
    return context


def starttls(daemon, context: ssl.SSLContext) -> RawSmtp:
    """A session that said EHLO, STARTTLS and EHLO again inside TLS."""
    client = RawSmtp(daemon.port())
    client.expect(None, 220)
    assert "STARTTLS" in client.ehlo().lines
    client.expect("STARTTLS", 220)
    client.starttls(context)
    client.ehlo()
    return client


def starttls_line(daemon, verify: str) -> str:
    return daemon.wait_for_log(rf"STARTTLS=server, relay=\[{CLIENT}\], version=TLSv1\.\d, "
                               rf"verify={verify}, .*").group(0)


def test_srv_features_s_removes_starttls_for_that_client(daemon_factory, tmp_path, certs,
                                                        tls_certs):
    daemon = daemon_with_access(daemon_factory, tmp_path, certs, tls_certs,
                                f"Srv_Features:{CLIENT} S\n")
    with RawSmtp(daemon.port()) as client:
        client.expect(None, 220)
        assert "STARTTLS" not in client.ehlo().lines
        assert client.command("STARTTLS").code == 502
        client.expect("MAIL FROM:<a@client.test>", 250)


def test_default_requests_no_certificate(daemon_factory, tmp_path, certs, tls_certs):
    daemon = daemon_with_access(daemon_factory, tmp_path, certs, tls_certs,
                                "Srv_Features:192.0.2.1 v\n")
    context = client_context(certs, tls_certs.client_certificate, tls_certs.client_key)
    with starttls(daemon, context) as client:
        client.expect("NOOP", 250)
    line = starttls_line(daemon, "NOT")
    assert "cert-subject=" not in line, line


def test_srv_features_v_requests_and_verifies_a_client_certificate(daemon_factory, tmp_path,
                                                                  certs, tls_certs):
    daemon = daemon_with_access(daemon_factory, tmp_path, certs, tls_certs,
                                f"Srv_Features:{CLIENT} v\n")
    context = client_context(certs, tls_certs.client_certificate, tls_certs.client_key)
    with starttls(daemon, context) as client:
        client.expect("NOOP", 250)
    line = starttls_line(daemon, "OK")
    assert "cert-subject=/CN=posthorn.test" in line, line
    assert "cert-issuer=/CN=Posthorn+20Client+20Test+20CA" in line, line


def test_srv_features_v_without_a_certificate_logs_no(daemon_factory, tmp_path, certs,
                                                      tls_certs):
    daemon = daemon_with_access(daemon_factory, tmp_path, certs, tls_certs,
                                f"Srv_Features:{CLIENT} v\n")
    with starttls(daemon, client_context(certs)) as client:
        client.expect("NOOP", 250)
    line = starttls_line(daemon, "NO")
    assert "cert-subject=" not in line, line


def test_srv_features_v_with_an_unknown_issuer_logs_fail(daemon_factory, tmp_path, certs,
                                                         tls_certs):
    daemon = daemon_with_access(daemon_factory, tmp_path, certs, tls_certs,
                                f"Srv_Features:{CLIENT} v\n")
    # The server certificate of `certs`: signed by a CA the daemon does not trust for
    # clients. The session goes on, encrypted.
    context = client_context(certs, certs.certificate, certs.private_key)
    with starttls(daemon, context) as client:
        client.expect("MAIL FROM:<a@client.test>", 250)
    line = starttls_line(daemon, "FAIL")
    assert "cert-issuer=/CN=Posthorn+20Test+20CA" in line, line


def test_tls_clt_verify_refuses_mail_without_a_verified_certificate(daemon_factory, tmp_path,
                                                                    certs, tls_certs):
    daemon = daemon_with_access(daemon_factory, tmp_path, certs, tls_certs,
                                f"TLS_Clt:{CLIENT} VERIFY\n")
    with RawSmtp(daemon.port()) as plain:
        plain.expect(None, 220)
        plain.ehlo()
        refused = plain.command("MAIL FROM:<a@client.test>")
        assert refused.code == 403 and refused.lines[0].startswith("4.7."), refused

    with starttls(daemon, client_context(certs)) as no_certificate:
        refused = no_certificate.command("MAIL FROM:<a@client.test>")
        assert refused.code == 403 and refused.lines[0].startswith("4.7."), refused
        assert "certificate" in refused.text, refused
    daemon.wait_for_log(r"ruleset=tls_client, arg1=NO, relay=\[127\.0\.0\.1\], reject=403 4\.7")

    context = client_context(certs, tls_certs.client_certificate, tls_certs.client_key)
    with starttls(daemon, context) as verified:
        verified.expect("MAIL FROM:<a@client.test>", 250)
        verified.expect("RCPT TO:<bob@dest.example>", 250)
    starttls_line(daemon, "OK")


def listed_inbound(daemon) -> list[dict]:
    entries = json.loads(daemon.cli("tls-memory", "list", "--json").stdout)
    return [entry for entry in entries if entry.get("direction") == "inbound"]


def wait_until_remembered(daemon, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        inbound = listed_inbound(daemon)
        if inbound:
            return inbound[0]
        if time.monotonic() > deadline:
            raise HarnessError("no inbound entry in tls-memory list; last log lines:\n"
                               + "\n".join(daemon.log_lines()[-10:]))
        time.sleep(0.05)


def test_a_client_whose_handshake_failed_is_not_offered_starttls(daemon_factory, tmp_path,
                                                                 certs, tls_certs):
    daemon = daemon_with_access(daemon_factory, tmp_path, certs, tls_certs, "",
                                {"inbound": {"tls_failure_memory": "1h"}})
    with RawSmtp(daemon.port()) as broken:
        broken.expect(None, 220)
        broken.ehlo()
        broken.expect("STARTTLS", 220)
        broken.send(b"this is not a TLS ClientHello\r\n" * 4)
        broken.nothing_pending(wait=1.0)
    daemon.wait_for_log(r"STARTTLS=server, relay=\[127\.0\.0\.1\], verify=SOFTWARE, error=")
    entry = wait_until_remembered(daemon)
    assert entry["key"] == f"client:{CLIENT}", entry

    with RawSmtp(daemon.port()) as later:
        later.expect(None, 220)
        assert "STARTTLS" not in later.ehlo().lines
        assert later.command("STARTTLS").code == 502
        later.expect("MAIL FROM:<a@client.test>", 250)
        later.expect("RCPT TO:<bob@dest.example>", 250)
    daemon.wait_for_log(r"STARTTLS=server, relay=\[127\.0\.0\.1\], verify=CLEAR, "
                        r"reason=\"broken TLS remembered until \d{4}-")

    listing = daemon.cli("tls-memory", "list").stdout.decode()
    assert "Inbound" in listing and CLIENT in listing, listing

    daemon.cli("tls-memory", "forget", CLIENT)
    assert listed_inbound(daemon) == []
    with starttls(daemon, client_context(certs)) as again:
        again.expect("MAIL FROM:<a@client.test>", 250)
