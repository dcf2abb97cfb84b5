"""SIGHUP reloads the config and the access map without a restart (SPEC section 1)."""

from __future__ import annotations

import signal
import smtplib


def rcpt(daemon, recipient: str) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", daemon.port(), local_hostname="client.test",
                      timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.mail("someone@client.test")[0] == 250
        return smtp.rcpt(recipient)


def test_sighup_reloads_the_access_map(daemon_factory, tmp_path):
    access = tmp_path / "access"
    access.write_text("# nothing yet\n")
    daemon = daemon_factory(config={"relay": {"networks": ["192.0.2.0/24"]},
                                    "maps": {"access": str(access)}})
    code, _ = rcpt(daemon, "user@elsewhere.example")
    assert code == 550
    access.write_text("Connect:127.0.0.1 RELAY\n")
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for_log(r"reloaded")
    code, reply = rcpt(daemon, "user@elsewhere.example")
    assert code == 250, reply


def test_broken_map_on_reload_keeps_the_running_policy(daemon_factory, tmp_path):
    access = tmp_path / "access"
    access.write_text("Connect:127.0.0.1 RELAY\n")
    daemon = daemon_factory(config={"relay": {"networks": ["192.0.2.0/24"]},
                                    "maps": {"access": str(access)}})
    access.write_text("Bogus_Tag:127.0.0.1 RELAY\n")
    daemon.process.send_signal(signal.SIGHUP)
    match = daemon.wait_for_log(r"reload failed.*")
    assert "access" in match.group(0) and ":1" in match.group(0), match.group(0)
    code, reply = rcpt(daemon, "user@elsewhere.example")
    assert code == 250, reply
    assert daemon.is_running()
