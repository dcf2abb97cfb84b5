"""Stopping and being left (issue 7, points 7 and 8): SIGTERM while clients are sending
stops within a bound, finishes the message in flight and keeps every acknowledged one;
a client that goes away at any stage of a session leaves the queue holding exactly the
messages that got `250` (and, at most, the one whose final dot it sent)."""

from __future__ import annotations

import signal
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

import pytest

from faults import StepwiseMessage, spool_files, wait_for_exit, wait_for_output
from posthorn_harness import RawSmtp, Reply

# The daemon waits this long for sessions in the middle of a message (DRAIN_LIMIT), and
# the bound on a graceful stop.
DRAIN_LIMIT = 30.0
STOP_BOUND = 35.0

# --- point 7: SIGTERM under load -------------------------------------------------------

LOAD_CLIENTS = 4


@dataclass
class LoadRecord:
    """What one load client knows: messages acknowledged (with their content), those
    whose final dot went out unanswered, and the reply or error that ended it."""
    acknowledged: dict[str, bytes] = field(default_factory=dict)
    unanswered: set[str] = field(default_factory=set)
    last_reply: Reply | None = None
    error: str = ""


def send_in_pieces(session: RawSmtp, message: StepwiseMessage, record: LoadRecord) -> bool:
    """One message, its body in four pieces; False when the server refused a step."""
    for line in (f"MAIL FROM:<{message.sender}>", f"RCPT TO:<{message.recipient}>", "DATA"):
        record.last_reply = session.command(line)
        if record.last_reply.code not in (250, 354):
            return False
    content = message.content
    step = len(content) // 4 + 1
    for start in range(0, len(content), step):
        session.send(content[start:start + step])
        time.sleep(0.02)
    record.unanswered.add(message.sender)
    record.last_reply = message.finish(session)
    record.unanswered.discard(message.sender)
    if record.last_reply.code != 250:
        return False
    record.acknowledged[message.sender] = content
    return True


def keep_sending(port: int, client: int, record: LoadRecord) -> None:
    """Messages back to back on one session until the server says no or goes away."""
    number = 0
    try:
        with RawSmtp(port) as session:
            session.expect(None, 220)
            session.ehlo()
            while True:
                number += 1
                message = StepwiseMessage(f"load{client}-{number}@client.test", body_lines=200)
                if not send_in_pieces(session, message, record):
                    return
    except (OSError, EOFError) as error:
        record.error = f"{type(error).__name__}: {error}"


def start_load(port: int) -> tuple[list[threading.Thread], list[LoadRecord]]:
    records = [LoadRecord() for _ in range(LOAD_CLIENTS)]
    threads = [threading.Thread(target=keep_sending, args=(port, n, records[n]))
               for n in range(LOAD_CLIENTS)]
    for thread in threads:
        thread.start()
    return threads, records


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sigterm_under_load_finishes_the_message_in_flight_and_loses_nothing(daemon):
    threads, records = start_load(daemon.port())
    time.sleep(1.5)
    in_flight = StepwiseMessage("in-flight@client.test")
    client = in_flight.open_data(daemon.port())
    in_flight.send_body(client, 0.5)

    signalled_at = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    assert daemon.is_running(), "stopped with a message in the middle of DATA"
    assert refuses_connections(daemon.port()), "still accepting after SIGTERM"
    client.send(in_flight.content[len(in_flight.content) // 2:])
    reply = in_flight.finish(client)
    assert reply.code == 250, f"the message in flight was not accepted: {reply}"
    after_message = client.read_reply()
    assert after_message.code == 421, after_message
    client.close()

    assert wait_for_exit(daemon.process, STOP_BOUND) == 0
    stop_time = time.monotonic() - signalled_at
    assert stop_time < 5, f"took {stop_time:.1f}s to stop with nothing left in flight"
    for thread in threads:
        thread.join(timeout=10)
    for number, record in enumerate(records):
        assert record.acknowledged, f"load client {number} never got a message through"
        assert record.last_reply is not None and record.last_reply.code == 421, \
            f"load client {number} ended with {record.last_reply} {record.error}"

    acknowledged = {in_flight.sender: in_flight.content}
    unanswered: set[str] = set()
    for record in records:
        acknowledged |= record.acknowledged
        unanswered |= record.unanswered
    daemon.start()
    queued = {m["sender"]: m for m in daemon.queue()}
    assert set(acknowledged) <= set(queued), f"lost: {set(acknowledged) - set(queued)}"
    assert set(queued) <= set(acknowledged) | unanswered, \
        f"queued but never sent in full: {set(queued) - set(acknowledged) - unanswered}"
    for sender, content in acknowledged.items():
        assert daemon.stored_message(queued[sender]["id"]).endswith(content), sender


def trickle(client: RawSmtp, stop: threading.Event) -> None:
    """Body lines at 2 KB/s, fast enough for any minimum data rate, never the end."""
    try:
        while not stop.is_set():
            client.send(b"x" * 998 + b"\r\n")
            time.sleep(0.5)
    except OSError:
        pass


def test_sigterm_with_a_never_ending_message_stops_within_the_bound(daemon):
    endless = StepwiseMessage("endless@client.test")
    client = endless.open_data(daemon.port())
    endless.send_body(client, 0.5)
    stop = threading.Event()
    trickling = threading.Thread(target=trickle, args=(client, stop))
    trickling.start()
    signalled_at = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    try:
        assert wait_for_exit(daemon.process, STOP_BOUND + 5) == 0
    finally:
        stop.set()
        trickling.join()
    stop_time = time.monotonic() - signalled_at
    assert DRAIN_LIMIT - 1 < stop_time < STOP_BOUND, \
        f"stopped after {stop_time:.1f}s: the drain limit is {DRAIN_LIMIT:.0f}s"
    client.close()
    daemon.start()
    assert daemon.queue() == []
    assert spool_files(daemon.spool, "incoming") == []


# --- point 8: the client goes away at every stage ---------------------------------------

STAGES = ["connect", "banner", "ehlo", "mail", "rcpt", "data", "mid-body", "final-dot"]


def leave_at(port: int, stage: str, message: StepwiseMessage, reset: bool) -> None:
    """Runs a session up to `stage`, then closes the socket without another word (with
    `reset`, as an RST: SO_LINGER 0)."""
    client = RawSmtp(port)
    if reset:
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    steps = [lambda: client.expect(None, 220),
             lambda: client.ehlo(),
             lambda: client.expect(f"MAIL FROM:<{message.sender}>", 250),
             lambda: client.expect(f"RCPT TO:<{message.recipient}>", 250),
             lambda: client.expect("DATA", 354),
             lambda: message.send_body(client, 0.5),
             lambda: client.send(message.content[len(message.content) // 2:] + b".\r\n")]
    for step in steps[:STAGES.index(stage)]:
        step()
    client.close()


def wait_until_empty(spool, directory: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while spool_files(spool, directory):
        assert time.monotonic() < deadline, f"{directory}/ still holds " \
            f"{spool_files(spool, directory)}"
        time.sleep(0.05)


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
def test_client_leaving_at_any_stage_leaves_exactly_the_acknowledged_messages(daemon, reset):
    acknowledged: dict[str, bytes] = {}
    for stage in STAGES:
        kept = StepwiseMessage(f"before-{stage}@client.test")
        reply = kept.send(daemon.port())
        assert reply.code == 250, reply
        acknowledged[kept.sender] = kept.content
        leave_at(daemon.port(), stage, StepwiseMessage(f"left-at-{stage}@client.test"), reset)
    # The message whose final dot was sent may be stored: the client cannot tell.
    may_be_stored = StepwiseMessage("left-at-final-dot@client.test")
    time.sleep(0.5)
    wait_until_empty(daemon.spool, "incoming")

    for restarted in (False, True):
        queued = {m["sender"]: m for m in daemon.queue()}
        assert set(queued) - {may_be_stored.sender} == set(acknowledged), \
            f"after restart: {restarted}"
        for sender, content in acknowledged.items():
            assert daemon.stored_message(queued[sender]["id"]).endswith(content)
        if may_be_stored.sender in queued:
            stored = daemon.stored_message(queued[may_be_stored.sender]["id"])
            assert stored.endswith(may_be_stored.content), "stored, but not complete"
        if not restarted:
            daemon.stop()
            daemon.start()
            wait_for_output(daemon, r"0 quarantined, 0 incomplete discarded")
