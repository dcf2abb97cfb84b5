"""The daemon runs without transparent huge pages: the allocator's arenas would otherwise be
backed 2 MiB at a time (RSS jumping by megabytes for a few large buffers, each fresh page a
2 MiB memset; bench/README.md, profile note 10)."""

from __future__ import annotations

from pathlib import Path


def test_the_daemon_runs_without_transparent_huge_pages(daemon_factory):
    daemon = daemon_factory()
    assert daemon.process is not None
    status = Path(f"/proc/{daemon.process.pid}/status").read_text()
    assert "THP_enabled:\t0" in status.splitlines(), status
