"""The relay-throughput matrix that `bench/relay` and `bench/relay-tls` share: sizes x
session counts x modes (one message per connection, or many), each run `runs` times
against each MTA, the MTAs alternating run by run so that drift on the machine hits both.

Every run gets a fresh MTA instance and a fresh sink, so no run inherits a queue."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from .options import choice_list, int_list, parse_size, size_list
from .report import Table, median, with_failures
from .runtime import say

MODES = ("single", "many")
QUICK_MESSAGES = 200


def default_messages(size: int) -> int:
    """Enough messages that even the faster MTA runs for several seconds: shorter runs
    are dominated by connection ramp-up and by this shared machine's noise."""
    if size <= 10 * 1024:
        return 10000
    if size <= 100 * 1024:
        return 6000
    return 1000


@dataclass(frozen=True)
class Combo:
    size_label: str
    size: int
    sessions: int
    mode: str
    messages: int

    @property
    def label(self) -> str:
        return f"{self.size_label}, {self.sessions} sessions, {self.mode}"

    @property
    def many(self) -> bool:
        return self.mode == "many"

    @property
    def per_connection(self) -> int:
        """Messages per connection: `single` 1; `many` as `smtp-source -d` does, the
        messages spread over the sessions, each session on one connection."""
        return math.ceil(self.messages / self.sessions) if self.many else 1


@dataclass
class RunResult:
    ok: bool
    accepted_per_second: float | None = None
    end_to_end_per_second: float | None = None
    received: int = 0
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=size_list, default=["10k", "100k", "1m"],
                        help="message sizes (default 10k,100k,1m)")
    parser.add_argument("--sessions", type=int_list, default=[20, 200],
                        help="concurrent sessions of the load generator (default 20,200)")
    parser.add_argument("--modes", type=choice_list(MODES), default=list(MODES),
                        help="single: one message per connection; many: a connection "
                             "carries many (smtp-source -d) (default single,many)")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure; the table "
                        "shows the median (default 5)")
    parser.add_argument("--messages", type=int, default=None,
                        help="messages per run (default by size: 10k 10000, 100k 6000, "
                             "1m 1000)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds one run may take before it counts as failed "
                             "(default 300)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: 10k, 20 sessions, single, 1 run, "
                             f"{QUICK_MESSAGES} messages")


def combos(args: argparse.Namespace) -> list[Combo]:
    if args.quick:
        args.sizes, args.sessions, args.modes, args.runs = ["10k"], [20], ["single"], 1
        args.messages = args.messages or QUICK_MESSAGES
    return [Combo(label, parse_size(label), sessions, mode,
                  args.messages or default_messages(parse_size(label)))
            for label in args.sizes for sessions in args.sessions for mode in args.modes]


Results = dict[tuple[Combo, str, str], list[RunResult]]  # (combo, variant, mta) -> runs
RunOne = Callable[[str, Combo, str], RunResult]  # (mta, combo, variant) -> one run


def run_matrix(all_combos: list[Combo], variants: list[str], mtas: list[str], runs: int,
               run_one: RunOne) -> Results:
    results: Results = {}
    for combo in all_combos:
        for run in range(1, runs + 1):
            for variant in variants:
                for mta in mtas:
                    say(f"{combo.label}, {variant}: {mta}, run {run}/{runs} "
                        f"({combo.messages} messages)")
                    result = run_one(mta, combo, variant)
                    _report_run(result)
                    results.setdefault((combo, variant, mta), []).append(result)
    return results


def _report_run(result: RunResult) -> None:
    if result.ok:
        say(f"  accepted {result.accepted_per_second:,.0f} msg/s, end to end "
            f"{result.end_to_end_per_second:,.0f} msg/s, sink received {result.received}")
    else:
        say(f"  FAILED: {result.error}")


def summary(results: Results, combo: Combo, variant: str, mta: str,
            figure: str) -> tuple[float | None, Any]:
    """(median of `figure` over the successful runs, the cell showing it)."""
    runs = results.get((combo, variant, mta))
    if runs is None:
        return None, None  # that MTA was not measured
    value = median([getattr(run, figure) for run in runs if run.ok])
    return value, with_failures(value, sum(not run.ok for run in runs), len(runs))


def add_throughput_rows(table: Table, results: Results, combo: Combo, variant: str,
                        label: str) -> None:
    for figure, name in (("end_to_end_per_second", "end to end"),
                         ("accepted_per_second", "accepted")):
        cells = [summary(results, combo, variant, mta, figure)[1]
                 for mta in ("posthorn", "postfix")]
        table.add(f"{label}: {name}", cells[0], cells[1], "msg/s")


def raw_runs(results: Results) -> list[dict[str, Any]]:
    return [{"size": combo.size_label, "sessions": combo.sessions, "mode": combo.mode,
             "messages": combo.messages, "variant": variant, "mta": mta, "ok": run.ok,
             "accepted_per_second": run.accepted_per_second,
             "end_to_end_per_second": run.end_to_end_per_second,
             "received": run.received, "error": run.error, **run.extra}
            for (combo, variant, mta), runs in results.items() for run in runs]


def lost_or_failed_notes(results: Results) -> list[str]:
    """A note for every run that failed or where the sink did not get exactly the
    messages sent."""
    notes = []
    for (combo, variant, mta), runs in results.items():
        for number, run in enumerate(runs, 1):
            where = f"{mta}, {combo.label}, {variant}, run {number}"
            if not run.ok:
                notes.append(f"FAILED {where}: {run.error}")
            elif run.received != combo.messages:
                notes.append(f"{where}: the sink received {run.received} of "
                             f"{combo.messages} messages")
    return notes
