"""Remote faults (issue 7, point 5): a connection reset, `421` at the greeting, to RCPT or
after the final dot, silence or a closed connection after the final dot, and a server
slower than `outbound.reply_timeout` each defer the message with growing retry intervals
and never bounce it; once the peer is healthy it gets the message, once. A destination
whose connections all hang does not starve another: with destination_concurrency=2 and
delivery_concurrency=3 mail to a fast domain keeps flowing, also the fast half of a
message that has a recipient at the hung domain as well."""

from __future__ import annotations

import time

import pytest
from dns_server import MX, A
from fault_peers import Fault, FaultyPeer
from posthorn_harness import find_message, simple_message, submit

SENDER = "alice@sender.example"
REPLY_TIMEOUT = 2.0
SLOW_DELAY = 3.0  # > REPLY_TIMEOUT: every wait for a reply times out

FAULTS = {  # domain: (fault, address of its MX)
    "reset.example": (Fault.RESET, "127.0.0.21"),
    "greeting.example": (Fault.GREETING_421, "127.0.0.22"),
    "rcpt.example": (Fault.RCPT_421, "127.0.0.23"),
    "data.example": (Fault.DATA_421, "127.0.0.24"),
    "silent.example": (Fault.SILENT_AFTER_DOT, "127.0.0.25"),
    "abort.example": (Fault.ABORT_AFTER_DOT, "127.0.0.26"),
    "slow.example": (Fault.SLOW, "127.0.0.27"),
}


@pytest.fixture
def faulty_peer_factory(mx_port):
    made: list[FaultyPeer] = []

    def make(host: str, fault: Fault, **options) -> FaultyPeer:
        peer = FaultyPeer(host, mx_port, fault, **options).start()
        made.append(peer)
        return peer

    yield make
    for peer in made:
        peer.stop()


def point_mx(dns_server, domain: str, address: str) -> None:
    dns_server.set(domain, [MX(10, f"mx.{domain}")])
    dns_server.set(f"mx.{domain}", [A(address)])


def send(daemon, recipients: list[str], tag: str) -> str:
    return submit(daemon.port(), SENDER, recipients, simple_message(SENDER, recipients, tag))


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {timeout}s")
        time.sleep(0.1)


def test_each_remote_fault_defers_with_backoff_then_a_healthy_peer_gets_the_message(
        dns_server, sender_sink, faulty_peer_factory, delivery_daemon_factory):
    peers = {}
    for domain, (fault, address) in FAULTS.items():
        point_mx(dns_server, domain, address)
        peers[domain] = faulty_peer_factory(address, fault, delay=SLOW_DELAY)
    daemon = delivery_daemon_factory({
        "outbound": {"reply_timeout": f"{REPLY_TIMEOUT:.0f}s"},
        "queue": {"retry_min": "1s", "retry_max": "8s"},
    })
    ids = {domain: send(daemon, [f"bob@{domain}"], domain) for domain in FAULTS}

    for domain, queue_id in ids.items():
        state = daemon.wait_for_recipient(queue_id, f"bob@{domain}", "deferred",
                                          attempts=3, timeout=30)
        assert state["last_error"], (domain, state)
        times = peers[domain].connection_times()
        assert len(times) >= 3, (domain, peers[domain].describe())
        first_gap, second_gap = times[1] - times[0], times[2] - times[1]
        # retry_min, then doubled: the second wait is about a second longer.
        assert second_gap > first_gap + 0.5, (domain, first_gap, second_gap)
        assert peers[domain].received() == [], domain
    assert sender_sink.messages() == [], "a remote fault must never bounce"
    assert not daemon.log_matching(r"dsn=5\."), "\n".join(daemon.log_lines())

    for peer in peers.values():
        peer.fault = Fault.HEALTHY
    for domain, queue_id in ids.items():
        daemon.wait_until_gone(queue_id, timeout=20)
        [received] = peers[domain].received()
        assert received.recipients == (f"bob@{domain}",)
        assert f"Body of {domain}.".encode() in received.content
    assert sender_sink.messages() == []


def test_a_slow_server_within_the_reply_timeout_gets_the_message_at_once(
        dns_server, sender_sink, faulty_peer_factory, delivery_daemon_factory):
    point_mx(dns_server, "tortoise.example", "127.0.0.28")
    peer = faulty_peer_factory("127.0.0.28", Fault.SLOW, delay=0.5)
    daemon = delivery_daemon_factory({"outbound": {"reply_timeout": "2s"}})

    queue_id = send(daemon, ["bob@tortoise.example"], "tortoise")
    [received] = peer.wait_for_messages(1, timeout=20)
    assert received.recipients == ("bob@tortoise.example",)
    daemon.wait_until_gone(queue_id)
    assert len(peer.connections()) == 1


HUNG = "127.0.0.31"
FAST = "127.0.0.32"
LIMBO = "127.0.0.33"  # hangs too, for a domain of its own
FAST_WITHIN = 5.0  # seconds for mail to the fast domain while the hung one is stuck


def test_a_hung_destination_does_not_starve_a_fast_one(
        dns_server, sink_factory, sender_sink, faulty_peer_factory,
        delivery_daemon_factory):
    point_mx(dns_server, "hang.example", HUNG)
    point_mx(dns_server, "quick.example", FAST)
    # "limbo" sorts before "quick": a message with both is not saved by domain order.
    point_mx(dns_server, "limbo.example", LIMBO)
    hung = faulty_peer_factory(HUNG, Fault.HANG)
    limbo = faulty_peer_factory(LIMBO, Fault.HANG)
    fast = sink_factory(FAST)
    daemon = delivery_daemon_factory({
        "outbound": {"reply_timeout": "10s", "destination_concurrency": 2},
        "queue": {"delivery_concurrency": 3},
    })

    stuck = [send(daemon, ["bob@hang.example"], f"stuck{n}") for n in range(6)]
    wait_until(lambda: len(hung.connections()) >= 2, 5, "2 connections to the hung MX")
    started = time.monotonic()
    quick = [send(daemon, ["carol@quick.example"], f"quick{n}") for n in range(3)]
    mixed = send(daemon, ["dave@limbo.example", "carol@quick.example"], "mixed")
    received = fast.wait_for_messages(4, timeout=FAST_WITHIN)
    assert time.monotonic() - started < FAST_WITHIN
    assert sorted(m.content.split(b"Subject: ")[1].split(b"\r\n")[0] for m in received) \
        == [b"mixed", b"quick0", b"quick1", b"quick2"]
    for queue_id in quick:
        daemon.wait_until_gone(queue_id, timeout=FAST_WITHIN)
    # The fast half of the mixed message is recorded while the other half still hangs.
    assert len(limbo.connections()) == 1 and not limbo.connections()[0].closed
    message = find_message(daemon.queue(), mixed)
    states = {r["address"]: r["status"] for r in message["recipients"]}
    assert states["carol@quick.example"] == "delivered", states
    assert states["dave@limbo.example"] != "delivered", states
    assert hung.most_open <= 2, f"{hung.most_open} connections at once to one destination"

    # The hung connections time out: deferred, never bounced.
    daemon.wait_for_recipient(stuck[0], "bob@hang.example", "deferred", timeout=20)
    assert sender_sink.messages() == []
    assert hung.most_open <= 2
