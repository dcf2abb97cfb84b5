"""DNS faults and mail loops (issue 7, point 6). A name server that never answers defers
the message (and it is delivered once DNS answers); an MX that points back at this host
(one of our listening addresses, or our `hostname`) is a mail loop and bounces with
`554 5.4.6`, and so does a backup MX list where we are the most preferred host (RFC 5321
§5.1: every MX not better than ours is dropped). SERVFAIL, NXDOMAIN and null MX are
covered in test_delivery_mx.py."""

from __future__ import annotations

import time

from dns_server import MX, A
from fault_peers import SilentDns
from conftest import SENDER_DOMAIN, SENDER_MX
from posthorn_harness import (HOSTNAME, delivery_config, find_message, received_dsn,
                              simple_message, submit, to_toml)

SENDER = "alice@sender.example"
RECIPIENT = "bob@dest.example"
SINK = "127.0.0.3"


def send(daemon, tag: str) -> str:
    return submit(daemon.port(), SENDER, [RECIPIENT], simple_message(SENDER, [RECIPIENT], tag))


def daemon_delivering_to_itself(delivery_daemon_factory):
    """A daemon whose MX port (`outbound.port`) is its own listener's port, so an MX at
    127.0.0.1 is this daemon."""
    daemon = delivery_daemon_factory(start=False)
    daemon.config["outbound"]["port"] = daemon.port()
    daemon.config_file.write_text(to_toml(daemon.config))
    return daemon.start()


def sender_sink_on(dns_server, sink_factory, port: int):
    """Like the `sender_sink` fixture, on `port` (the daemon's `outbound.port`)."""
    dns_server.set(SENDER_DOMAIN, [MX(10, f"mx.{SENDER_DOMAIN}")])
    dns_server.set(f"mx.{SENDER_DOMAIN}", [A(SENDER_MX)])
    return sink_factory(SENDER_MX, port=port, hostname=f"mx.{SENDER_DOMAIN}")


def assert_loop_bounce(daemon, sender_sink, queue_id: str) -> None:
    [bounce] = sender_sink.wait_for_messages(1)
    fields = received_dsn(bounce, SENDER).recipient(RECIPIENT)
    assert fields["action"].lower() == "failed"
    assert fields["status"] == "5.4.6"
    assert "points back to" in fields.get("diagnostic-code", ""), fields
    daemon.wait_until_gone(queue_id)
    daemon.wait_for_log(rf"{queue_id}: to=<{RECIPIENT}>, .*dsn=5\.4\.6, "
                        r"stat=554 5\.4\.6 MX list for dest\.example points back to ")


def test_mx_pointing_at_our_own_listener_is_a_loop_and_bounces(
        dns_server, sink_factory, delivery_daemon_factory):
    dns_server.set("dest.example", [MX(10, "mx.dest.example")])
    dns_server.set("mx.dest.example", [A("127.0.0.1")])
    daemon = daemon_delivering_to_itself(delivery_daemon_factory)
    sender_sink = sender_sink_on(dns_server, sink_factory, daemon.port())

    queue_id = send(daemon, "loop-address")
    assert_loop_bounce(daemon, sender_sink, queue_id)
    # It never talked to itself: it received the message only once, from us.
    assert len(daemon.log_matching(rf": from=<{SENDER}>")) == 1


def test_we_as_most_preferred_mx_drop_the_worse_backups_and_bounce(
        dns_server, sink_factory, sender_sink, delivery_daemon_factory):
    # Our hostname is the best MX; the backup at 20 is not better than us, so it must
    # not get the mail either (it would hand it back to us).
    dns_server.set("dest.example", [MX(10, HOSTNAME), MX(20, "backup.dest.example")])
    dns_server.set(HOSTNAME, [A("127.0.0.9")])
    dns_server.set("backup.dest.example", [A(SINK)])
    backup = sink_factory(SINK)
    daemon = delivery_daemon_factory()

    queue_id = send(daemon, "loop-name")
    assert_loop_bounce(daemon, sender_sink, queue_id)
    assert backup.messages() == [] and backup.connections() == []


def test_we_as_backup_mx_deliver_to_the_better_one(
        dns_server, sink_factory, delivery_daemon_factory):
    dns_server.set("dest.example", [MX(20, "mx.dest.example"), MX(10, "primary.dest.example")])
    dns_server.set("mx.dest.example", [A("127.0.0.1")])  # us: our listener's address
    dns_server.set("primary.dest.example", [A(SINK)])
    daemon = daemon_delivering_to_itself(delivery_daemon_factory)
    primary = sink_factory(SINK, port=daemon.port())
    sender_sink = sender_sink_on(dns_server, sink_factory, daemon.port())

    queue_id = send(daemon, "backup")
    [received] = primary.wait_for_messages(1)
    assert received.recipients == (RECIPIENT,)
    daemon.wait_until_gone(queue_id)
    assert sender_sink.messages() == []


def test_a_name_server_that_never_answers_defers_until_it_does(
        dns_server, sink_factory, posthorn_bin, daemon_factory, mx_port):
    dns_server.set("dest.example", [MX(10, "mx.dest.example")])
    dns_server.set("mx.dest.example", [A(SINK)])
    sink = sink_factory(SINK)
    with SilentDns(dns_server.address, silent=True) as silent:
        daemon = daemon_factory(config=delivery_config(silent.address, mx_port))

        queue_id = send(daemon, "dns-timeout")
        state = daemon.wait_for_recipient(queue_id, RECIPIENT, "deferred", attempts=1,
                                          timeout=40)
        assert "DNS" in state["last_error"] or "dns" in state["last_error"], state
        assert silent.swallowed > 0
        assert sink.messages() == []
        assert not daemon.log_matching(r"dsn=5\."), "a DNS timeout must not bounce"
        assert find_message(daemon.queue(), queue_id) is not None

        silent.silent = False
        started = time.monotonic()
        [received] = sink.wait_for_messages(1, timeout=30)
        assert received.recipients == (RECIPIENT,)
        daemon.wait_until_gone(queue_id)
        assert time.monotonic() - started < 30
