"""What the scripts need from an MTA under test, whichever it is: start it relaying every
message to a sink on loopback, read its memory and queue size, stop it."""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

from .certs import Certificate
from .memory import Memory
from .runtime import cleanup, remove_directory

MTA_NAMES = ("posthorn", "postfix")
DEFAULT_MESSAGE_SIZE_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class MtaSettings:
    """The same knobs for both MTAs.

    `relay_port`: the sink on 127.0.0.1 every message is relayed to.
    `tls`: Postfix offers and uses STARTTLS on both hops (Posthorn always offers it and
    always tries it outbound: its defaults).
    `max_sessions`: inbound sessions to serve at once (Posthorn `limits.sessions`, at least
    20,000; Postfix `default_process_limit`, at least 1,000).
    `idle_timeout`: how long an idle inbound session is kept (None: the default)."""
    relay_port: int
    certificate: Certificate
    tls: bool = False
    max_sessions: int = 1000
    message_size_limit: int = DEFAULT_MESSAGE_SIZE_LIMIT
    idle_timeout_seconds: int | None = None


class Mta(Protocol):
    name: str  # "Posthorn" or "Postfix", as the table prints it
    port: int  # its SMTP listener on 127.0.0.1
    directory: Path  # config, queue and mail log

    def start(self) -> "Mta": ...

    def stop(self) -> None: ...

    def memory(self) -> Memory | None: ...

    def queue_size(self) -> int: ...

    def describe_memory(self) -> str: ...

    def delivered_count(self) -> int: ...


def make_mta(name: str, settings: MtaSettings) -> Mta:
    """A configured, not yet started instance of `name` ("posthorn" or "postfix") in its
    own temporary directory, removed at cleanup."""
    from .postfix import PostfixInstance
    from .posthorn import PosthornInstance

    # Postfix's unprivileged processes must traverse the directory: /tmp, mode 755.
    directory = Path(tempfile.mkdtemp(prefix=f"posthorn-bench-{name}-"))
    directory.chmod(0o755)
    cleanup.add(f"remove {directory}", lambda: remove_directory(directory))
    if name == "posthorn":
        return PosthornInstance(directory, settings)
    if name == "postfix":
        return PostfixInstance(directory, settings)
    raise ValueError(f"unknown MTA {name!r}: one of {', '.join(MTA_NAMES)}")


@contextmanager
def running(name: str, settings: MtaSettings) -> Iterator[Mta]:
    """A started instance of `name`; on leaving, it is stopped and its directory removed
    (a long script does not keep one spool per run on disk)."""
    mta = make_mta(name, settings)
    try:
        yield mta.start()
    finally:
        mta.stop()
        remove_directory(mta.directory)


def logged_deliveries(mta: Mta, expected: int, timeout: float = 5.0) -> int:
    """The deliveries `mta` has logged, waiting up to `timeout` for `expected` of them
    (the log line of the last delivery follows the sink's 250 by a moment)."""
    deadline = time.monotonic() + timeout
    while (logged := mta.delivered_count()) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return logged


def count_files(*directories: Path) -> int:
    """Regular files below `directories` (missing ones count as empty)."""
    total = 0
    for directory in directories:
        if directory.is_dir():
            total += sum(len(files) for _, _, files in os.walk(directory))
    return total
