"""The benchmark scripts in bench/ work end to end: each runs in its smoke size against
both MTAs (Posthorn from POSTHORN_BIN, the load tool from POSTHORN_BENCH_BIN, both debug
builds in CI; Postfix from Debian's package), exits 0 and prints a table with a positive
figure in both columns. Timing is never checked: that is the benchmarks' job, not CI's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from posthorn_harness import REPO_ROOT

BENCH = REPO_ROOT / "bench"
SCRIPT_TIMEOUT = 120


@pytest.fixture(scope="module")
def bench_env(posthorn_bin: Path) -> dict[str, str]:
    tool = Path(os.environ.get("POSTHORN_BENCH_BIN",
                               REPO_ROOT / "target" / "debug" / "posthorn-bench"))
    if not tool.is_file():
        pytest.fail(f"{tool} does not exist: run `cargo build -p posthorn-bench` first, or "
                    f"set POSTHORN_BENCH_BIN")
    return {**os.environ, "POSTHORN_BIN": str(posthorn_bin), "POSTHORN_BENCH_BIN": str(tool)}


def run_script(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Runs bench/ARGS with --json; asserts exit 0 and returns the parsed table."""
    result = subprocess.run([str(BENCH / args[0]), *args[1:], "--json"], env=env,
                            capture_output=True, text=True, timeout=SCRIPT_TIMEOUT)
    assert result.returncode == 0, (f"bench/{' '.join(args)} exited with "
                                    f"{result.returncode}\nstdout:\n{result.stdout}\n"
                                    f"stderr:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout)


def row(table: dict[str, Any], starts_with: str) -> dict[str, Any]:
    matching = [r for r in table["rows"] if r["measurement"].startswith(starts_with)]
    assert matching, f"no row {starts_with!r} in {[r['measurement'] for r in table['rows']]}"
    return matching[0]


def assert_both_positive(table: dict[str, Any], starts_with: str) -> None:
    found = row(table, starts_with)
    for mta in ("posthorn", "postfix"):
        value = found[mta]
        assert isinstance(value, (int, float)) and value > 0, \
            f"{starts_with!r}: {mta} = {value!r}; notes: {table['notes']}"


def assert_every_message_reached_the_sink(table: dict[str, Any]) -> None:
    runs = table["runs"]
    assert {run["mta"] for run in runs} == {"posthorn", "postfix"}
    for run in runs:
        assert run["ok"], run
        assert run["received"] == run["messages"], run


def assert_yardstick_noted(table: dict[str, Any]) -> None:
    """The machine's speed at the start and the end of the run, as two figures."""
    notes = [note for note in table["notes"] if note.startswith("machine yardstick (")]
    assert len(notes) == 1, table["notes"]
    figures = re.findall(r": (\d+) us at the start, (\d+) us at the end$", notes[0])
    assert figures and all(int(value) > 0 for value in figures[0]), notes[0]


def test_relay_quick(bench_env: dict[str, str]) -> None:
    table = run_script(bench_env, "relay", "--quick")
    assert_both_positive(table, "10k, 20 sessions, single: end to end")
    assert_both_positive(table, "10k, 20 sessions, single: accepted")
    assert_every_message_reached_the_sink(table)
    postfix = [run for run in table["runs"] if run["mta"] == "postfix"]
    assert all(run["logged_delivered"] == run["messages"] for run in postfix), postfix
    assert_yardstick_noted(table)


def test_relay_tls_quick(bench_env: dict[str, str]) -> None:
    table = run_script(bench_env, "relay-tls", "--quick", "--extra-round-trips", "3")
    assert_both_positive(table, "10k, 20 sessions, single, STARTTLS: end to end")
    assert_both_positive(table, "10k, 20 sessions, single, plaintext (same tools): end to end")
    assert row(table, "10k, 20 sessions, single: STARTTLS / plaintext")["posthorn"]
    assert_both_positive(
        table, "10k, 20 sessions, single, plaintext + 3 NOOP round trips (same tools): end to end")
    assert row(table, "10k, 20 sessions, single: plaintext + 3 NOOP round trips / plaintext")[
        "posthorn"]
    assert_every_message_reached_the_sink(table)
    assert_yardstick_noted(table)


def test_latency_quick(bench_env: dict[str, str]) -> None:
    table = run_script(bench_env, "latency", "--quick")
    assert_both_positive(table, "max rate, closed loop")
    for load in ("half", "full"):
        assert_both_positive(table, f"{load} load (")
        for quantile in ("p50", "p99"):
            found = [r for r in table["rows"]
                     if r["measurement"].startswith(f"{load} load")
                     and r["measurement"].endswith(f"{quantile} latency")]
            assert found and all(isinstance(found[0][m], (int, float))
                                 for m in ("posthorn", "postfix")), found
    assert_yardstick_noted(table)


def test_latency_next_to_a_disk_writer_notes_what_it_wrote(bench_env: dict[str, str]) -> None:
    table = run_script(bench_env, "latency", "--quick", "--mta", "posthorn",
                       "--disk-writer", "10")
    assert isinstance(row(table, "half load (")["posthorn"], (int, float))
    notes = [note for note in table["notes"] if note.startswith("posthorn: disk writer (")]
    assert len(notes) == 1, table["notes"]
    written = re.search(r"\(10 MB/s, never synced, same filesystem as the spool\): "
                        r"([\d,]+) MB in (\d+) s, dirty page cache", notes[0])
    assert written, notes[0]
    assert int(written.group(1).replace(",", "")) > 0 and int(written.group(2)) > 0, notes[0]


def test_large_message_2m(bench_env: dict[str, str]) -> None:
    table = run_script(bench_env, "large-message", "--size", "2m")
    assert_both_positive(table, "baseline")
    assert_both_positive(table, "peak")
    assert_both_positive(table, "relayed (sink has it) in")
    assert_yardstick_noted(table)


def test_yardstick_without_the_tool_says_so_and_does_not_fail(
        monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(BENCH))
    from benchlib import yardstick
    monkeypatch.setenv("POSTHORN_BENCH_BIN", "/nonexistent/posthorn-bench")
    assert yardstick.measure() is None
    assert yardstick.Yardstick().note().startswith("machine yardstick: not measured")
    assert yardstick.describe(196.4, 277.0).endswith("196 us at the start, 277 us at the end")


def load_bench_script(name: str) -> Any:
    """bench/NAME as a module (the scripts have no .py suffix)."""
    import importlib.machinery
    import importlib.util
    module_name = name.replace("-", "_")
    loader = importlib.machinery.SourceFileLoader(module_name, str(BENCH / name))
    spec = importlib.util.spec_from_loader(module_name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    # Registered first: a dataclass looks its module up in sys.modules while it is built.
    sys.modules[module_name] = module
    loader.exec_module(module)
    return module


def test_cpu_account_counts_samples_per_process(capsys: pytest.CaptureFixture[str]) -> None:
    # perf itself may be missing or not allowed in CI: the counting and the table are
    # checked on `perf script -F comm,pid` text as perf prints it.
    cpu_account = load_bench_script("cpu-account")
    text = ("  tokio-rt-worker  1774 \n" * 3 + " posthorn-spool-  1774 \n"
            + "         swapper     0 \n" * 2 + "  smtp sink proc  1778 \n")
    samples = cpu_account.parse_samples(text)
    assert samples == {(1774, "tokio-rt-worker"): 3, (1774, "posthorn-spool-"): 1,
                       (0, "swapper"): 2, (1778, "smtp sink proc"): 1}
    cpu_account.print_table(samples, messages=4, top=5)
    lines = capsys.readouterr().out.splitlines()
    rate = cpu_account.RATE
    # 4 samples of pid 1774 at RATE Hz, over 4 messages.
    assert lines[2] == (f"| 1774 | tokio-rt-worker | {4000 / rate:,.0f} | "
                        f"{4000 * 1000 / rate / 4:,.0f} |")
    assert lines[3].startswith("| 0 | idle |")
    assert len(lines) == 5


MALLOC_STATS = """Arena 0:
system bytes     =     135168
in use bytes     =      18656
Arena 1:
system bytes     =   35704832
in use bytes     =     376928
Total (incl. mmap):
system bytes     =   76832768
in use bytes     =    1394448
max mmap regions =          0
max mmap bytes   =          0
"""


def test_heap_check_reads_complete_malloc_reports() -> None:
    # gdb and ptrace may not be allowed in CI: the reading of glibc's malloc_stats()
    # reports (as the daemon's stderr holds them, one per reading) is checked here.
    heap_check = load_bench_script("heap-check")
    assert heap_check.malloc_reports("posthorn: listening\n") == []
    assert heap_check.malloc_reports(MALLOC_STATS) == [(76832768, 1394448)]
    later = MALLOC_STATS.replace("76832768", "80879616").replace("1394448", "1499184")
    assert heap_check.malloc_reports(MALLOC_STATS + later) == [(76832768, 1394448),
                                                               (80879616, 1499184)]
    # A report still being written (its totals not yet there) is not counted.
    partial = later[:later.index("in use bytes     =    1499184")]
    assert heap_check.malloc_reports(MALLOC_STATS + partial) == [(76832768, 1394448)]


def test_heap_check_refuses_a_mimalloc_build(posthorn_bin: Path) -> None:
    # The default build links mimalloc, whose heap glibc's statistics cannot see.
    heap_check = load_bench_script("heap-check")
    assert heap_check.uses_mimalloc(posthorn_bin)
    assert not heap_check.uses_mimalloc(Path("/usr/sbin/smtp-sink"))
