"""`posthorn probe DESTINATION` (SPEC section 1, issue 6): a live TLS diagnosis against
scripted loopback peers. Each kind of peer gets the right verdict and reason; golden files
under golden/probe/ pin the human output (ports, dates, fingerprints and temporary paths
are replaced by placeholders first; regenerate with POSTHORN_UPDATE_GOLDEN=1); `--json`
carries the same facts. No daemon is started: the probe reads the daemon's config."""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path

import pytest

from dns_server import MX, A

GOLDEN = Path(__file__).resolve().parent / "golden" / "probe"
PEER = "127.0.0.5"
UPDATE = os.environ.get("POSTHORN_UPDATE_GOLDEN") == "1"

DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
FINGERPRINT = re.compile(r"(?:[0-9A-F]{2}:){31}[0-9A-F]{2}")


def normalise(text: str, mx_port: int, tmp_path: Path) -> str:
    text = text.replace(str(tmp_path), "<TMP>")
    text = re.sub(rf"\b{mx_port}\b", "<PORT>", text)
    text = DATE.sub("<DATE>", text)
    return FINGERPRINT.sub("<SHA256>", text)


def assert_golden(name: str, text: str, mx_port: int, tmp_path: Path) -> None:
    actual = normalise(text, mx_port, tmp_path)
    path = GOLDEN / f"{name}.txt"
    if UPDATE:
        path.write_text(actual)
    assert path.is_file(), f"{path} missing: run with POSTHORN_UPDATE_GOLDEN=1"
    assert actual == path.read_text(), f"{name}: output differs from {path}:\n{actual}"


def probe(daemon, destination: str, *args: str):
    """`posthorn probe` with the daemon's config: (exit code, stdout)."""
    result = daemon.cli("probe", destination, *args, check=False)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def probe_json(daemon, destination: str, *args: str) -> dict:
    code, out, err = probe(daemon, destination, "--json", *args)
    assert code in (0, 69), err
    return json.loads(out)


def line(out: str, prefix: str) -> str:
    """The first line starting with `prefix`, without it."""
    for text in out.splitlines():
        if text.startswith(prefix):
            return text[len(prefix):]
    raise AssertionError(f"no line starting with {prefix!r} in:\n{out}")


@pytest.fixture
def configured(tls_daemon_factory, dest_mx):
    """A config (daemon never started) that routes dest.example to PEER and trusts the
    test CA; `access` is the text of its access map."""

    def make(config: dict | None = None, access: str | None = None):
        dest_mx(PEER)
        return tls_daemon_factory(config=config, access=access, start=False)

    return make


def test_a_verified_peer(configured, tls_peer_factory, mx_port, tmp_path):
    tls_peer_factory(PEER)
    daemon = configured()
    code, out, err = probe(daemon, "dest.example")
    assert code == 0, err
    assert line(out, "verdict: ") == "TLS verified"
    assert line(out, "overall: ") == "TLS verified"
    assert "certificate 0: subject CN=mx.dest.example" in out
    assert "  issuer: CN=Posthorn Outbound Test CA" in out
    assert "client certificate requested: no" in out
    assert_golden("tls_verified", out, mx_port, tmp_path)


def test_an_untrusted_certificate_is_delivered_with_verify_fail(configured, tls_peer_factory,
                                                                  mx_port, tmp_path):
    tls_peer_factory(PEER, trusted=False)
    code, out, _ = probe(configured(), "dest.example")
    assert code == 0
    assert line(out, "verdict: ") == "TLS unverified (delivered with verify=FAIL)"
    assert line(out, "verify: ").startswith("FAIL (")
    assert_golden("tls_unverified", out, mx_port, tmp_path)


@pytest.mark.parametrize("mode, reason", [
    ("garbage", "handshake failed: "),
    ("close", "handshake failed: "),
    ("refuse", "454 4.7.0 TLS not available"),
])
def test_a_broken_starttls_falls_back_to_plaintext(configured, broken_starttls_factory,
                                                   mx_port, tmp_path, mode, reason):
    peer = broken_starttls_factory(PEER, mode)
    code, out, _ = probe(configured(), "dest.example")
    assert code == 0
    verdict = line(out, "verdict: ")
    assert verdict.startswith(f"plaintext after fallback (STARTTLS fails: {reason}"), out
    # The plaintext reconnect saw the banner and EHLO a fallback delivery would see.
    assert "plaintext reconnect (what the fallback meets):\n  connect: ok\n  banner: 220 " in out
    connections = peer.wait_for_connections(2)
    assert connections[1].starttls_attempted is False
    assert all(c.messages == 0 for c in connections), "the probe sent mail"
    assert_golden(f"broken_{mode}", out, mx_port, tmp_path)


def test_a_server_demanding_a_client_certificate(configured, broken_starttls_factory,
                                                 mx_port, tmp_path):
    """The seeds' outlook.com case: TLS 1.3 asks for a client certificate, we have none
    configured and send nothing, and the server drops the session at our next read."""
    broken_starttls_factory(PEER, "demand_client_cert")
    code, out, _ = probe(configured(), "dest.example")
    assert code == 0
    assert "client certificate requested: yes" in out
    assert "Posthorn sends: nothing: none configured" in out
    assert "TLS broke before MAIL" in out
    assert line(out, "verdict: ").startswith(
        "plaintext after fallback (STARTTLS fails: TLS broke before MAIL: ")
    assert_golden("demand_client_cert", out, mx_port, tmp_path)


def test_the_configured_client_certificate_is_named(configured, tls_peer_factory, tls_certs):
    tls_peer_factory(PEER, request_client_cert=True)
    daemon = configured(config={"tls": {
        "client_certificate": str(tls_certs.client_certificate),
        "client_private_key": str(tls_certs.client_key)}})
    code, out, _ = probe(daemon, "dest.example")
    assert code == 0
    assert "client certificate: CN=posthorn.test (names: posthorn.test)" in out
    assert "client certificate requested: yes" in out
    assert ("Posthorn sends: the configured certificate CN=posthorn.test "
            "(names: posthorn.test)") in out
    assert line(out, "verdict: ") == "TLS verified"


def test_no_starttls_offered(configured, broken_starttls_factory, mx_port, tmp_path):
    broken_starttls_factory(PEER, "garbage", offer_starttls=False)
    code, out, _ = probe(configured(), "dest.example")
    assert code == 0
    assert "STARTTLS: not offered" in out
    assert line(out, "verdict: ") == "plaintext (STARTTLS not offered)"
    assert_golden("no_starttls", out, mx_port, tmp_path)


def test_try_tls_no_uses_the_words_of_posthorn_policy(configured, tls_peer_factory,
                                                      mx_port, tmp_path):
    tls_peer_factory(PEER)
    daemon = configured(access="# broken peers\n" * 11 + "Try_TLS:dest.example NO\n")
    code, out, _ = probe(daemon, "dest.example")
    assert code == 0
    assert line(out, "verdict: ") == "plaintext (Try_TLS NO at access:12)"
    # STARTTLS is still probed, to show what turning Try_TLS back on would meet.
    assert "verify: OK" in out
    policy = daemon.cli("policy", "mx.dest.example", "--ip", PEER,
                        "--rcpt-domain", "dest.example").stdout.decode()
    expected = [text for text in policy.splitlines()
                if text.startswith(("Try_TLS:", "TLS_Srv:", "TLS_Rcpt:", "result:"))]
    assert len(expected) == 4
    for text in expected:
        assert f"  {text}\n" in out, f"{text!r} not in probe output:\n{out}"
    assert_golden("try_tls_no", out, mx_port, tmp_path)


def test_required_tls_defers_on_a_broken_handshake(configured, broken_starttls_factory):
    peer = broken_starttls_factory(PEER, "garbage")
    code, out, _ = probe(configured(config={"outbound": {"starttls": "required"}}),
                         "dest.example")
    assert code == 0
    assert line(out, "verdict: ").startswith("defer: STARTTLS fails: handshake failed: ")
    assert line(out, "verdict: ").endswith("; policy required requires TLS")
    assert "plaintext reconnect" not in out
    assert len(peer.wait_for_connections(1)) == 1


def test_a_dead_address_exits_69(configured, mx_port, tmp_path):
    daemon = configured()
    code, out, _ = probe(daemon, f"[{PEER}]:{mx_port}")
    assert code == 69
    assert line(out, "verdict: ").startswith("defer: connect: Connection refused")
    assert line(out, "overall: ").startswith("defer: no address answers (last: connect: ")
    assert_golden("dead_address", out, mx_port, tmp_path)


def test_the_first_answering_address_decides(configured, dns_server, tls_peer_factory):
    """Two MX hosts: the preferred one is dead, the second answers with TLS."""
    tls_peer_factory("127.0.0.6")
    daemon = configured()
    dns_server.set("dest.example", [MX(10, "mx.dest.example"), MX(20, "mx2.dest.example")])
    dns_server.set("mx2.dest.example", [A("127.0.0.6")])
    report = probe_json(daemon, "dest.example")
    assert [a["host"] for a in report["addresses"]] == ["mx.dest.example", "mx2.dest.example"]
    assert report["addresses"][0]["verdict"]["kind"] == "defer"
    assert report["addresses"][1]["verdict"]["kind"] == "tls_unverified"  # name mismatch
    assert report["overall"] == report["addresses"][1]["verdict"]
    assert report["answered"] is True


def test_a_silent_server_is_cut_off_by_the_timeout(configured, mx_port):
    """A listener that never sends its banner: the probe gives up after --timeout."""
    silent = socket.socket()
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    silent.bind((PEER, mx_port))
    silent.listen(4)
    try:
        started = time.monotonic()
        code, out, _ = probe(configured(), "dest.example", "--timeout", "1s")
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert code == 69, out
    assert line(out, "verdict: ") == "defer: greeting: no reply within 1s"
    assert elapsed < 8, f"the probe took {elapsed:.1f}s"


def test_json_carries_the_same_facts(configured, broken_starttls_factory):
    broken_starttls_factory(PEER, "demand_client_cert")
    daemon = configured()
    _, out, _ = probe(daemon, "dest.example")
    report = probe_json(daemon, "dest.example")
    assert report["target"] == "dest.example"
    assert report["route"]["source"] == "mx"
    assert report["route"]["hops"][0]["addresses"] == [PEER]
    address = report["addresses"][0]
    assert address["policy"]["policy"] == "opportunistic"
    assert [step["tag"] for step in address["policy"]["lookups"]] == [
        "Try_TLS", "TLS_Srv", "TLS_Rcpt"]
    session = address["session"]
    assert session["banner"] == line(out, "banner: ")
    assert "STARTTLS" in session["ehlo"]["keywords"]
    starttls = session["starttls"]
    assert starttls["result"] == "broken_after_handshake"
    assert starttls["failure_verify"] == "SOFTWARE"
    assert starttls["tls"]["client_certificate_requested"] is True
    assert starttls["tls"]["client_certificate_sent"] is None
    assert starttls["tls"]["chain"][0]["subject"] == "CN=mx.dest.example"
    assert address["fallback"]["banner"].startswith("220 ")
    assert address["verdict"]["kind"] == "plaintext_after_fallback"
    assert address["verdict"]["text"] == line(out, "verdict: ")
    assert report["overall"]["text"] == line(out, "overall: ")


def test_config_and_usage_errors(configured, tmp_path):
    daemon = configured(access="TLS_Srv:example.com ENCR\n")
    code, _, err = probe(daemon, "dest.example")
    assert code == 78
    assert "access0:1" in err
    code, _, err = probe(configured(), "[127.0.0.1")
    assert code == 64
    assert "bad destination" in err
    code, _, err = probe(configured(), "dest.example", "--timeout", "soon")
    assert code == 64
