"""Durability (SPEC section 6): SIGKILL while clients are sending loses no acknowledged
message and keeps no incomplete one; SIGTERM exits 0 and a restart keeps the queue."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from posthorn_harness import RawSmtp, make_message, messages_from

CLIENTS = 4
KILL_AFTER = 1.5
MAX_ROUNDS = 4
RECIPIENT = "sink@dest.example"


@dataclass
class ClientRecord:
    """What one client knows about each message it tried to send, by sender."""
    acknowledged: set[str] = field(default_factory=set)
    in_flight: set[str] = field(default_factory=set)
    incomplete: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    stopped_at: float = 0.0
    stopped_by: str = ""

    def absorb(self, other: "ClientRecord") -> None:
        self.acknowledged |= other.acknowledged
        self.in_flight |= other.in_flight
        self.incomplete |= other.incomplete
        self.refused |= other.refused


def body_chunks(sender: str) -> list[bytes]:
    """A message sent in pieces, so the kill often lands in the middle of DATA."""
    message = make_message(sender, [RECIPIENT], f"crash test {sender}",
                           "".join(f"line {n} of {sender}\n" for n in range(40)), sender)
    size = len(message) // 5 + 1
    return [message[i:i + size] for i in range(0, len(message), size)]


def send_one(session: RawSmtp, sender: str, record: ClientRecord) -> None:
    """A message is incomplete until its final dot is handed to the socket, in flight
    until the reply is read, then acknowledged (250) or refused (anything else)."""
    record.incomplete.add(sender)
    session.expect(f"MAIL FROM:<{sender}>", 250)
    session.expect(f"RCPT TO:<{RECIPIENT}>", 250)
    session.expect("DATA", 354)
    for chunk in body_chunks(sender):
        session.send(chunk)
        time.sleep(0.01)
    record.incomplete.discard(sender)
    record.in_flight.add(sender)
    session.send(b".\r\n")
    reply = session.read_reply()
    record.in_flight.discard(sender)
    if reply.code != 250:
        record.refused.add(sender)
        raise AssertionError(f"{sender}: final dot answered {reply}")
    record.acknowledged.add(sender)


def send_until_killed(port: int, client: int, record: ClientRecord) -> None:
    """Sends messages back to back on one session until the daemon dies."""
    number = 0
    try:
        with RawSmtp(port, timeout=5) as session:
            session.expect(None, 220)
            session.ehlo()
            while True:
                number += 1
                send_one(session, f"c{client}-m{number}@test.example", record)
    except (OSError, EOFError, AssertionError) as error:
        record.stopped_by = f"{type(error).__name__}: {error}"
    finally:
        record.stopped_at = time.monotonic()


def crash_round(daemon) -> ClientRecord:
    """Clients send; the daemon is SIGKILLed; it restarts on the same spool."""
    records = [ClientRecord() for _ in range(CLIENTS)]
    threads = [threading.Thread(target=send_until_killed, args=(daemon.port(), n, records[n]))
               for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(KILL_AFTER)
    killed_at = time.monotonic()
    daemon.kill()
    for thread in threads:
        thread.join(timeout=15)
        assert not thread.is_alive(), "a client did not notice the daemon died"
    for number, record in enumerate(records):
        # A client that stopped before the kill met a daemon fault, not the crash.
        assert record.stopped_at >= killed_at, f"client {number} stopped early: {record.stopped_by}"
    daemon.start()
    merged = ClientRecord()
    for record in records:
        merged.absorb(record)
    return merged


def test_kill_9_loses_no_acknowledged_message_and_keeps_no_incomplete_one(daemon_factory):
    acknowledged_total = incomplete_total = 0
    for round_number in range(MAX_ROUNDS):
        daemon = daemon_factory()
        record = crash_round(daemon)
        queue = daemon.queue()
        queued = {message["sender"] for message in queue}

        lost = record.acknowledged - queued
        assert not lost, f"round {round_number}: acknowledged but lost: {sorted(lost)}"
        kept = (record.incomplete | record.refused) & queued
        assert not kept, f"round {round_number}: incomplete or refused but queued: {sorted(kept)}"
        for sender in record.acknowledged:
            [message] = messages_from(queue, sender)
            assert [r["address"] for r in message["recipients"]] == [RECIPIENT]
        assert queued <= record.acknowledged | record.in_flight, \
            f"queued messages nobody sent: {sorted(queued - record.acknowledged - record.in_flight)}"

        daemon.stop()
        acknowledged_total += len(record.acknowledged)
        incomplete_total += len(record.incomplete)
        if acknowledged_total and incomplete_total:
            return
    assert acknowledged_total, "no message was acknowledged before the kill in any round"
    assert incomplete_total, "the kill never cut a message short in any round"


def test_sigterm_exits_0_and_restart_keeps_the_queue(daemon):
    sender = "durable@client.test"
    with RawSmtp(daemon.port()) as client:
        client.expect(None, 220)
        client.ehlo()
        client.expect(f"MAIL FROM:<{sender}>", 250)
        client.expect("RCPT TO:<one@dest.example>", 250)
        client.expect("RCPT TO:<two@dest.example>", 250)
        client.expect("DATA", 354)
        client.send(make_message(sender, ["one@dest.example", "two@dest.example"], "durable",
                                 "Still here.\n", "durable@client.test") + b".\r\n")
        client.expect(None, 250)
        client.expect("QUIT", 221)
    before = messages_from(daemon.queue(), sender)
    assert len(before) == 1

    daemon.stop()  # asserts exit status 0
    stopped = messages_from(daemon.queue(), sender)  # the CLI works without the daemon
    assert [m["id"] for m in stopped] == [before[0]["id"]]

    daemon.start()
    [after] = messages_from(daemon.queue(), sender)
    assert after["id"] == before[0]["id"]
    assert sorted(r["address"] for r in after["recipients"]) == \
        ["one@dest.example", "two@dest.example"]
    assert daemon.stored_message(after["id"]) == daemon.stored_message(before[0]["id"])
