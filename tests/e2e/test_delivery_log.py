"""The delivery log lines of SPEC 5, token by token: the `to=` line has every key in
order with values of the documented form, in plaintext and after STARTTLS, where the
`STARTTLS=client` line comes too."""

from __future__ import annotations

import re

from dns_server import MX, A
from posthorn_harness import log_fields, simple_message, submit

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
SINK = "127.0.0.3"
TO_KEYS = ["to", "delay", "xdelay", "mailer", "relay", "dsn", "stat", "tls", "verify",
           "policy"]
DURATION = re.compile(r"^\d{2,}:\d{2}:\d{2}$")


def deliver_one(dns_server, sink, daemon, tag: str) -> tuple[str, dict[str, str]]:
    """Delivers one message to the sink; returns its queue id and `to=` fields."""
    queue_id = submit(daemon.port(), SENDER, [RECIPIENT],
                      simple_message(SENDER, [RECIPIENT], tag))
    sink.wait_for_messages(1)
    daemon.wait_until_gone(queue_id)
    line = daemon.wait_for_log(rf"{re.escape(queue_id)}: to=<").string
    fields = log_fields(line)
    assert [key for key, _ in fields] == TO_KEYS, line
    return queue_id, dict(fields)


def destination(dns_server) -> None:
    dns_server.set("dest.example", [MX(10, "mx.dest.example")])
    dns_server.set("mx.dest.example", [A(SINK)])


def test_to_line_has_every_spec_key_in_order(dns_server, sink_factory,
                                             delivery_daemon_factory):
    destination(dns_server)
    sink = sink_factory(SINK)  # no STARTTLS offered
    daemon = delivery_daemon_factory()

    _, fields = deliver_one(dns_server, sink, daemon, "log-plain")
    assert fields["to"] == f"<{RECIPIENT}>"
    assert DURATION.match(fields["delay"]) and DURATION.match(fields["xdelay"]), fields
    assert fields["mailer"] == "esmtp"
    assert fields["relay"] == f"mx.dest.example. [{SINK}]"
    assert fields["dsn"] == "2.0.0"
    assert re.fullmatch(r"Sent \(250 (2\.0\.0 )?Ok: queued as SINK1\)", fields["stat"]), fields
    assert fields["tls"] == "none"
    assert fields["verify"] == "NONE"
    assert fields["policy"] == "opportunistic"
    assert daemon.log_matching(r"STARTTLS=client") == []


def test_starttls_line_and_to_line_after_starttls(dns_server, sink_factory, certs,
                                                  delivery_daemon_factory):
    destination(dns_server)
    sink = sink_factory(SINK, tls_certificate=certs.certificate,
                        tls_private_key=certs.private_key)
    daemon = delivery_daemon_factory()

    _, fields = deliver_one(dns_server, sink, daemon, "log-tls")
    [received] = sink.messages()
    assert received.tls_version == "TLSv1.3"
    assert fields["tls"] == "TLSv1.3"
    assert fields["verify"] == "FAIL"  # the test CA is not a trust anchor of the daemon
    assert fields["stat"].startswith("Sent (250 ")
    handshake = daemon.wait_for_log(r"STARTTLS=client, ").string
    assert [key for key, _ in log_fields(handshake)] == [
        "STARTTLS", "relay", "version", "verify", "cipher", "bits"], handshake
    tls = dict(log_fields(handshake))
    assert tls["STARTTLS"] == "client"
    assert tls["relay"].startswith("mx.dest.example")
    assert tls["version"] == "TLSv1.3" and tls["verify"] == "FAIL"
    assert re.fullmatch(r"TLS_[A-Z0-9_]+", tls["cipher"]), tls
    assert re.fullmatch(r"(\d+)/\1", tls["bits"]), tls
