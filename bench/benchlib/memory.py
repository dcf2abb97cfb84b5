"""Memory of a process or of a process tree, read from /proc.

VmRSS counts every page a process maps, shared ones included, so summing it over
Postfix's many processes would count the shared libraries once per process. Pss
(proportional set size) divides each shared page among the processes sharing it, so a
sum of Pss is the memory the whole instance really uses; that is the Postfix figure."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Memory:
    """Kibibytes; `processes` is how many processes were summed."""
    rss_kib: int
    pss_kib: int
    processes: int

    @property
    def rss_mib(self) -> float:
        return self.rss_kib / 1024

    @property
    def pss_mib(self) -> float:
        return self.pss_kib / 1024


def _field_kib(path: Path, name: str) -> int | None:
    """The `Name:   123 kB` field of a /proc file; None if the process is gone."""
    try:
        with open(path) as lines:
            for line in lines:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def process_memory(pid: int) -> Memory | None:
    """One process; None if it has exited."""
    rss = _field_kib(PROC / str(pid) / "status", "VmRSS")
    pss = _field_kib(PROC / str(pid) / "smaps_rollup", "Pss")
    if rss is None or pss is None:
        return None
    return Memory(rss, pss, 1)


def _parents() -> dict[int, int]:
    """pid -> parent pid, for every process alive now."""
    parents: dict[int, int] = {}
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"{entry.path}/stat") as stat:
                # The command name, in parentheses, may hold spaces: split after it.
                fields = stat.read().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
        except (OSError, ValueError, IndexError):
            continue
    return parents


def descendants(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    tree, waiting = [], [root]
    while waiting:
        pid = waiting.pop()
        tree.append(pid)
        waiting.extend(children.get(pid, []))
    return tree


def tree_memory(root: int) -> Memory | None:
    """The sum over `root` and its descendants; None if `root` has exited."""
    total_rss = total_pss = counted = 0
    for pid in descendants(root):
        memory = process_memory(pid)
        if memory is None:
            if pid == root:
                return None
            continue  # a child that exited while we walked
        total_rss += memory.rss_kib
        total_pss += memory.pss_kib
        counted += 1
    return Memory(total_rss, total_pss, counted)
