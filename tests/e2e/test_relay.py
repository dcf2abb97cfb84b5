"""Relay control: relay.networks, the access map's Connect: RELAY, relay.domains
(SPEC sections 2, 3)."""

from __future__ import annotations

import smtplib

# 127.0.0.1, where the tests connect from, is outside this network.
OUTSIDE = {"relay": {"networks": ["192.0.2.0/24"]}}


def rcpt_replies(daemon, recipients: list[str]) -> list[tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", daemon.port(), local_hostname="client.test",
                      timeout=10) as smtp:
        smtp.ehlo()
        code, reply = smtp.mail("someone@client.test")
        assert code == 250, reply
        return [smtp.rcpt(recipient) for recipient in recipients]


def assert_relay_denied(reply: tuple[int, bytes]) -> None:
    code, text = reply
    assert code == 550 and text.startswith(b"5.7.1"), reply


def test_client_outside_relay_networks_cannot_relay(daemon_factory):
    daemon = daemon_factory(config=OUTSIDE)
    [reply] = rcpt_replies(daemon, ["user@elsewhere.example"])
    assert_relay_denied(reply)


def test_relay_networks_allow_the_client(daemon_factory):
    daemon = daemon_factory(config={"relay": {"networks": ["127.0.0.0/8"]}})
    [(code, reply)] = rcpt_replies(daemon, ["user@elsewhere.example"])
    assert code == 250, reply


def test_access_map_connect_relay_opens_relaying(daemon_factory, tmp_path):
    access = tmp_path / "access"
    access.write_text("# test access map\nConnect:127.0.0.1\tRELAY\n")
    daemon = daemon_factory(config={**OUTSIDE, "maps": {"access": str(access)}})
    [(code, reply)] = rcpt_replies(daemon, ["user@elsewhere.example"])
    assert code == 250, reply


def test_access_map_matches_the_ip_prefix(daemon_factory, tmp_path):
    access = tmp_path / "access"
    access.write_text("Connect:127.0\tRELAY\n")
    daemon = daemon_factory(config={**OUTSIDE, "maps": {"access": str(access)}})
    [(code, reply)] = rcpt_replies(daemon, ["user@elsewhere.example"])
    assert code == 250, reply


def test_relay_domains_are_accepted_from_anyone_and_nothing_else(daemon_factory):
    config = {"relay": {"networks": ["192.0.2.0/24"], "domains": ["hosted.example"]}}
    daemon = daemon_factory(config=config)
    hosted, foreign = rcpt_replies(daemon, ["user@hosted.example", "user@elsewhere.example"])
    assert hosted[0] == 250, hosted
    assert_relay_denied(foreign)
