"""`posthorn tls-memory list [--json] | forget [HOST-OR-IP]` (SPEC section 1) on the
spool's `tls-memory` file, written here as the daemon writes it."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from posthorn_harness import to_toml


def setup(tmp_path: Path, entries: list[tuple[str, int, str]]) -> Path:
    """A config whose spool holds a memory with `entries` (key, seconds left, reason)."""
    spool = tmp_path / "spool"
    spool.mkdir()
    now = int(time.time())
    lines = [f"{key} {now + left} {now} {reason}" for key, left, reason in entries]
    (spool / "tls-memory").write_text("\n".join(["# written by the test", *lines, "garbage"]) + "\n")
    config = tmp_path / "posthorn.toml"
    config.write_text(to_toml({"hostname": "posthorn.test", "spool": str(spool)}))
    return config


def run(posthorn_bin: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(posthorn_bin), "tls-memory", "-c", str(config), *args],
                          capture_output=True, text=True, timeout=30)


def listed(posthorn_bin: Path, config: Path) -> list[str]:
    result = run(posthorn_bin, config, "list", "--json")
    assert result.returncode == 0, result.stderr
    return [entry["key"] for entry in json.loads(result.stdout)]


def test_list_shows_live_entries_and_skips_expired_and_malformed(posthorn_bin, tmp_path):
    config = setup(tmp_path, [("mx.dest.example", 3600, "handshake failed: unexpected EOF"),
                              ("192.0.2.7", 3600, "handshake failed: bad record mac"),
                              ("old.example", -10, "long ago")])
    result = run(posthorn_bin, config, "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["HOST/IP", "UNTIL", "RECORDED", "REASON"]
    assert [line.split()[0] for line in lines[1:]] == ["192.0.2.7", "mx.dest.example"]
    assert lines[2].endswith("handshake failed: unexpected EOF")

    entries = json.loads(run(posthorn_bin, config, "list", "--json").stdout)
    assert entries[1]["key"] == "mx.dest.example"
    assert entries[1]["reason"] == "handshake failed: unexpected EOF"
    assert entries[1]["until"].endswith("Z") and entries[1]["recorded"].endswith("Z")


def test_forget_one_then_everything(posthorn_bin, tmp_path):
    config = setup(tmp_path, [("mx.dest.example", 3600, "eof"), ("192.0.2.7", 3600, "eof"),
                              ("mx2.dest.example", 3600, "eof")])
    result = run(posthorn_bin, config, "forget", "[192.0.2.7]")
    assert (result.returncode, result.stdout) == (0, "[192.0.2.7]: forgotten (1 entry removed)\n")
    assert listed(posthorn_bin, config) == ["mx.dest.example", "mx2.dest.example"]

    result = run(posthorn_bin, config, "forget", "MX.Dest.Example.")
    assert result.returncode == 0 and "1 entry removed" in result.stdout
    result = run(posthorn_bin, config, "forget", "nowhere.example")
    assert (result.returncode, result.stdout) == (
        0, "nowhere.example: not remembered; nothing removed\n")

    result = run(posthorn_bin, config, "forget")
    assert (result.returncode, result.stdout) == (0, "forgot everything (1 entry removed)\n")
    assert listed(posthorn_bin, config) == []
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == ["tls-memory"]


def test_empty_memory_and_config_errors(posthorn_bin, tmp_path):
    config = tmp_path / "posthorn.toml"
    config.write_text(to_toml({"hostname": "posthorn.test", "spool": str(tmp_path / "none")}))
    result = run(posthorn_bin, config, "list")
    assert (result.returncode, result.stdout) == (
        0, "No hosts or IPs with broken TLS are remembered.\n")
    result = run(posthorn_bin, config, "forget")
    assert (result.returncode, result.stdout) == (0, "nothing remembered; nothing removed\n")

    config.write_text('[outbound]\ntls_failure_memory = "a while"\n')
    result = run(posthorn_bin, config, "list")
    assert result.returncode == 78
    assert "tls_failure_memory" in result.stderr
