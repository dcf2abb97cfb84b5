"""Which route a recipient takes (SPEC 3 mailertable, issue 3): the mailertable first,
then `outbound.smarthost`, else MX."""

from __future__ import annotations

from dns_server import MX, A
from posthorn_harness import simple_message, submit

SENDER = "alice@sender.example"
MX_SINK = "127.0.0.3"
MAILERTABLE_SINK = "127.0.0.4"
SMARTHOST_SINK = "127.0.0.8"


def mailertable(tmp_path, mx_port: int) -> str:
    path = tmp_path / "mailertable"
    path.write_text("# routes for the test\n"
                    f"dest.example   esmtp:[{MAILERTABLE_SINK}]:{mx_port}\n")
    return str(path)


def mx_for(dns_server, domain: str, address: str) -> None:
    dns_server.set(domain, [MX(10, f"mx.{domain}")])
    dns_server.set(f"mx.{domain}", [A(address)])


def test_mailertable_entry_wins_over_mx(dns_server, sink_factory, mx_port, tmp_path,
                                        delivery_daemon_factory):
    mx_for(dns_server, "dest.example", MX_SINK)
    by_mx, by_table = sink_factory(MX_SINK), sink_factory(MAILERTABLE_SINK)
    daemon = delivery_daemon_factory({"maps": {"mailertable": mailertable(tmp_path, mx_port)}})

    recipient = "bob@dest.example"
    queue_id = submit(daemon.port(), SENDER, [recipient],
                      simple_message(SENDER, [recipient], "by-table"))
    [received] = by_table.wait_for_messages(1)
    assert received.recipients == (recipient,)
    daemon.wait_until_gone(queue_id)
    assert by_mx.connections() == []


def test_mailertable_then_smarthost_then_never_mx(dns_server, sink_factory, mx_port,
                                                  tmp_path, delivery_daemon_factory):
    mx_for(dns_server, "dest.example", MX_SINK)
    mx_for(dns_server, "other.example", MX_SINK)
    by_mx = sink_factory(MX_SINK)
    by_table, by_smarthost = sink_factory(MAILERTABLE_SINK), sink_factory(SMARTHOST_SINK)
    daemon = delivery_daemon_factory({
        "maps": {"mailertable": mailertable(tmp_path, mx_port)},
        "outbound": {"smarthost": f"[{SMARTHOST_SINK}]:{mx_port}"},
    })

    recipients = ["bob@dest.example", "carol@other.example"]
    queue_id = submit(daemon.port(), SENDER, recipients,
                      simple_message(SENDER, recipients, "two-routes"))
    [to_table] = by_table.wait_for_messages(1)
    [to_smarthost] = by_smarthost.wait_for_messages(1)
    assert to_table.recipients == ("bob@dest.example",)
    assert to_smarthost.recipients == ("carol@other.example",)
    daemon.wait_until_gone(queue_id)
    assert by_mx.connections() == []


def test_sighup_reloads_the_mailertable(dns_server, sink_factory, mx_port, tmp_path,
                                        delivery_daemon_factory):
    import signal
    mx_for(dns_server, "dest.example", MX_SINK)
    by_mx, by_table = sink_factory(MX_SINK), sink_factory(MAILERTABLE_SINK)
    table = tmp_path / "mailertable"
    table.write_text("# empty at first\n")
    daemon = delivery_daemon_factory({"maps": {"mailertable": str(table)}})
    first = submit(daemon.port(), SENDER, ["bob@dest.example"],
                   simple_message(SENDER, ["bob@dest.example"], "before-reload"))
    by_mx.wait_for_messages(1)
    daemon.wait_until_gone(first)

    table.write_text(f"dest.example   esmtp:[{MAILERTABLE_SINK}]:{mx_port}\n")
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for_log(r"reloaded")
    second = submit(daemon.port(), SENDER, ["bob@dest.example"],
                    simple_message(SENDER, ["bob@dest.example"], "after-reload"))
    [received] = by_table.wait_for_messages(1)
    assert b"after-reload" in received.content
    daemon.wait_until_gone(second)
    assert len(by_mx.messages()) == 1
