"""`posthorn policy HOST-OR-DOMAIN`: which outbound TLS policy applies and why
(SPEC sections 1, 3 and 4), run on configs with access maps. No daemon is started."""

from __future__ import annotations

import json
from pathlib import Path

ACCESS = """\
# outbound TLS exceptions
Try_TLS:outlook.com         NO
TLS_Srv:192.0.2             ENCR:128
TLS_Rcpt:bank.example       PERM+VERIFY+CN:mx.bank.example
Try_TLS:IPv6:2001:db8       NO
"""


def configured(daemon_factory, tmp_path: Path, access: str | None = ACCESS,
               outbound: dict | None = None):
    """A daemon's config (never started) with `access` as its access map."""
    config: dict = {}
    tmp_path.mkdir(parents=True, exist_ok=True)
    if access is not None:
        path = tmp_path / "access"
        path.write_text(access)
        config["maps"] = {"access": str(path)}
    if outbound:
        config["outbound"] = outbound
    return daemon_factory(config=config, start=False)


def explain(daemon, *args: str) -> str:
    return daemon.cli("policy", *args).stdout.decode()


def explain_json(daemon, *args: str) -> dict:
    return json.loads(daemon.cli("policy", *args, "--json").stdout)


def test_try_tls_no_for_a_parent_domain_turns_starttls_off(daemon_factory, tmp_path):
    daemon = configured(daemon_factory, tmp_path)
    out = explain(daemon, "mx1.mail.outlook.com")
    access = tmp_path / "access"
    assert "destination: mx1.mail.outlook.com (no IP given: IP keys not tried)" in out
    assert "config: outbound.starttls = opportunistic, tls_failure = plaintext" in out
    assert ("Try_TLS:  tried Try_TLS:mx1.mail.outlook.com, Try_TLS:mail.outlook.com, "
            f"Try_TLS:outlook.com  -> matched at {access}:2: NO") in out
    assert "TLS_Srv:  tried TLS_Srv:mx1.mail.outlook.com" in out
    assert out.rstrip().endswith(
        "result: off (try_tls:access:2): STARTTLS is not sent to this host"), out


def test_ip_keys_are_tried_after_host_keys_when_an_ip_is_given(daemon_factory, tmp_path):
    daemon = configured(daemon_factory, tmp_path)
    without_ip = explain_json(daemon, "mx.example.net")
    assert without_ip["mode"] == "opportunistic"
    assert without_ip["destination"]["ip_keys_tried"] is False
    assert without_ip["allows_plaintext"] is True
    assert without_ip["plaintext_fallback"] is True

    report = explain_json(daemon, "mx.example.net", "--ip", "192.0.2.55")
    srv = report["lookups"][1]
    assert srv["tag"] == "TLS_Srv"
    assert srv["tried"] == ["TLS_Srv:mx.example.net", "TLS_Srv:example.net", "TLS_Srv:net",
                            "TLS_Srv:192.0.2.55", "TLS_Srv:192.0.2"]
    assert srv["matched"] == {"key": "TLS_Srv:192.0.2", "file": str(tmp_path / "access"),
                              "line": 3, "value": "ENCR:128"}
    assert report["mode"] == "required"
    assert report["policy"] == "tls_srv:access:3"
    assert report["requirements"]["min_bits"] == 128
    assert report["allows_plaintext"] is False
    assert report["plaintext_fallback"] is False


def test_an_address_destination_and_ipv6(daemon_factory, tmp_path):
    daemon = configured(daemon_factory, tmp_path)
    assert explain_json(daemon, "[192.0.2.9]")["mode"] == "required"
    out = explain(daemon, "mx6.example.net", "--ip", "2001:db8::25")
    assert "Try_TLS:IPv6:2001:db8:0:0:0:0:0:25" in out
    assert f"matched at {tmp_path / 'access'}:5: NO" in out
    assert "result: off (try_tls:access:5)" in out


def test_tls_rcpt_by_recipient_domain_and_requirements_beat_try_tls_no(daemon_factory,
                                                                        tmp_path):
    daemon = configured(daemon_factory, tmp_path)
    out = explain(daemon, "mx1.mail.outlook.com", "--rcpt-domain", "bank.example")
    assert "TLS_Rcpt: tried TLS_Rcpt:bank.example  -> matched at" in out
    assert "note: Try_TLS NO (line 2) is overridden: TLS_Rcpt (line 4) requires TLS" in out
    assert ("requirements: a verified certificate, the certificate name mx.bank.example; "
            "unmet: bounce (5.7.x, PERM+)") in out
    assert "result: verified (tls_rcpt:access:4)" in out
    assert "never sent in plaintext" in out


def test_config_mode_and_tls_failure_are_reported(daemon_factory, tmp_path):
    daemon = configured(daemon_factory, tmp_path, access=None,
                        outbound={"starttls": "opportunistic", "tls_failure": "defer"})
    report = explain_json(daemon, "mx.example.org")
    assert report["access_map"] is None
    assert report["config"] == {"starttls": "opportunistic", "tls_failure": "defer"}
    assert report["policy"] == "opportunistic"
    assert report["allows_plaintext"] is True
    assert report["plaintext_fallback"] is False
    assert "defers the message" in report["summary"]

    required = configured(daemon_factory, tmp_path / "required", access="Try_TLS: NO\n",
                          outbound={"starttls": "required"})
    out = explain(required, "mx.example.org")
    assert "note: Try_TLS NO (line 1) overrides outbound.starttls = required" in out
    assert "result: off (try_tls:access:1)" in out


def test_a_bad_access_map_exits_78_naming_file_and_line(daemon_factory, tmp_path):
    daemon = configured(daemon_factory, tmp_path,
                        access="Try_TLS:example.com NO\nTLS_Srv:example.com ENCR\n")
    result = daemon.cli("policy", "mx.example.com", check=False)
    assert result.returncode == 78, result
    assert f"{tmp_path / 'access'}:2" in result.stderr.decode()

    missing = daemon_factory(config={"maps": {"access": str(tmp_path / "nonexistent")}},
                             start=False)
    result = missing.cli("policy", "mx.example.com", check=False)
    assert result.returncode == 78, result
    assert "nonexistent" in result.stderr.decode()
