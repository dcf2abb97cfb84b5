"""A competing writer on the spool's filesystem, as a backup or a log rotation next to a
mail queue would be: it writes 1 MiB blocks to a file without ever syncing, so the page
cache holds up to the kernel's dirty limit (`vm.dirty_ratio`) of data that is not the
MTA's. An MTA whose commit waits for the whole filesystem (`syncfs`, `sync`) waits for
all of it; one that syncs only its own files does not.

The writer is a child process (`python3 diskload.py FILE MBPS WRAP_BYTES REPORT`): it
seeks back to the start after WRAP_BYTES so the file stays bounded, samples `Dirty:` in
/proc/meminfo twice a second, and on SIGTERM writes what it did to REPORT as JSON."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

if __package__:  # the child runs this file as a script, without the package
    from .runtime import BenchError, start_process, stop_process

BLOCK = 1 << 20
WRAP_BYTES = 4 << 30
SAMPLE_SECONDS = 0.5


class DiskWriter:
    """Runs the writer in `directory` while the `with` block lasts; `mbps` 0 writes as
    fast as the kernel lets it. `figures` holds the child's report afterwards."""

    def __init__(self, directory: Path, mbps: float) -> None:
        self.file = directory / "disk-writer.data"
        self.report = directory / "disk-writer.json"
        self.mbps = mbps
        self.figures: dict[str, Any] = {}

    def __enter__(self) -> "DiskWriter":
        self.process = start_process(
            [sys.executable, __file__, str(self.file), str(self.mbps), str(WRAP_BYTES),
             str(self.report)], what="stop the disk writer")
        return self

    def __exit__(self, *_: object) -> None:
        stop_process(self.process)
        try:
            self.figures = json.loads(self.report.read_text())
        except (OSError, ValueError) as error:
            raise BenchError(f"the disk writer left no report: {error}")
        finally:
            self.file.unlink(missing_ok=True)

    def describe(self) -> str:
        pace = "as fast as the kernel allows" if self.mbps == 0 else f"{self.mbps:g} MB/s"
        figures = self.figures
        return (f"disk writer ({pace}, never synced, same filesystem as the spool): "
                f"{figures.get('written_mb', 0):,.0f} MB in {figures.get('seconds', 0):.0f} s, "
                f"dirty page cache {figures.get('dirty_mb_mean', 0):,.0f} MB on average, "
                f"{figures.get('dirty_mb_max', 0):,.0f} MB at most")


def dirty_megabytes() -> float:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("Dirty:"):
                return int(line.split()[1]) / 1024
    return 0.0


def write(path: str, mbps: float, wrap_bytes: int, report: str) -> None:
    stopped = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, stop)
    block = b"\x5a" * BLOCK
    started = time.monotonic()
    written = 0
    samples: list[float] = []
    next_sample = started
    with open(path, "wb", buffering=0) as data:
        while not stopped:
            if data.tell() >= wrap_bytes:
                data.seek(0)
            data.write(block)
            written += BLOCK
            now = time.monotonic()
            if now >= next_sample:
                samples.append(dirty_megabytes())
                next_sample = now + SAMPLE_SECONDS
            if mbps > 0:
                ahead = written / (mbps * 1e6) - (now - started)
                if ahead > 0:
                    time.sleep(ahead)
    figures = {"written_mb": written / 1e6, "seconds": time.monotonic() - started,
               "dirty_mb_mean": sum(samples) / len(samples) if samples else 0.0,
               "dirty_mb_max": max(samples, default=0.0)}
    Path(report).write_text(json.dumps(figures))


if __name__ == "__main__":
    write(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
