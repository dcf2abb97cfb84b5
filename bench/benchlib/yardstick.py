"""The machine's speed while a table was measured. This virtual machine's CPU speed moves
by tens of percent within a day (the same TLS handshake took 196 us in the morning and
277 us in the afternoon), which moves every absolute figure (msg/s, us, ms) while the
Posthorn / Postfix ratios of one run stay comparable. The yardstick is `posthorn-bench
handshake`: TLS 1.3 handshakes in memory, pure CPU, no I/O and no MTA. Each script
measures it when it starts and when it ends and notes both under its table."""

from __future__ import annotations

import json
import subprocess

from .runtime import bench_binary

HANDSHAKES = 1000
TIMEOUT = 120.0


def measure() -> float | None:
    """CPU microseconds per handshake at both ends; None when the tool is missing or
    fails (a benchmark does not fail for want of its yardstick)."""
    command = [str(bench_binary()), "handshake", "--handshakes", str(HANDSHAKES), "--json"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT,
                              check=True)
        return float(json.loads(done.stdout)["both_us"])
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError):
        return None


class Yardstick:
    """Measured at construction (the start of a script) and again by `note` (its end)."""

    def __init__(self) -> None:
        self.start = measure()

    def note(self) -> str:
        return describe(self.start, measure())


def describe(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return ("machine yardstick: not measured (it needs posthorn-bench: "
                "cargo build --release -p posthorn-bench)")
    return (f"machine yardstick (`posthorn-bench handshake`: CPU per TLS handshake at both "
            f"ends, lower is a faster machine): {start:.0f} us at the start, {end:.0f} us "
            f"at the end")
