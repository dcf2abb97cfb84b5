"""`posthorn passwd add USER | remove USER | list` (SPEC section 1) on the file named by
`auth.password_file`: the password comes on stdin, the file holds argon2id hashes."""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

from posthorn_harness import to_toml

ARGON2ID_PHC = re.compile(r"^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")


def write_config(tmp_path: Path, auth: dict | None) -> Path:
    config = {"hostname": "posthorn.test", "spool": str(tmp_path / "spool")}
    if auth is not None:
        config["auth"] = auth
    path = tmp_path / "posthorn.toml"
    path.write_text(to_toml(config))
    return path


def passwd(posthorn_bin: Path, config: Path, *args: str,
           stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([str(posthorn_bin), "passwd", *args, "-c", str(config)],
                          input=stdin, capture_output=True, text=True, timeout=60)


def entries(password_file: Path) -> dict[str, str]:
    lines = password_file.read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line and not line.startswith("#"))


def test_add_list_replace_remove(posthorn_bin, tmp_path):
    users = tmp_path / "passwd"
    config = write_config(tmp_path, {"password_file": str(users)})

    result = passwd(posthorn_bin, config, "list")
    assert (result.returncode, result.stdout) == (0, ""), result.stderr

    result = passwd(posthorn_bin, config, "add", "alice@example.com", stdin="first secret\n")
    assert (result.returncode, result.stdout) == (0, "alice@example.com: added\n"), result.stderr
    result = passwd(posthorn_bin, config, "add", "bob", stdin="bobs-password")
    assert result.returncode == 0, result.stderr

    result = passwd(posthorn_bin, config, "list")
    assert (result.returncode, result.stdout) == (0, "alice@example.com\nbob\n"), result.stderr

    text = users.read_text()
    assert "first secret" not in text and "bobs-password" not in text
    hashes = entries(users)
    assert list(hashes) == ["alice@example.com", "bob"]
    for hash_ in hashes.values():
        assert ARGON2ID_PHC.match(hash_), hash_
    assert stat.S_IMODE(users.stat().st_mode) == 0o600

    result = passwd(posthorn_bin, config, "add", "alice@example.com", stdin="second secret\n")
    assert (result.returncode, result.stdout) == (
        0, "alice@example.com: password replaced\n"), result.stderr
    replaced = entries(users)
    assert list(replaced) == ["alice@example.com", "bob"]
    assert replaced["alice@example.com"] != hashes["alice@example.com"]
    assert ARGON2ID_PHC.match(replaced["alice@example.com"])
    assert replaced["bob"] == hashes["bob"]

    result = passwd(posthorn_bin, config, "remove", "alice@example.com")
    assert (result.returncode, result.stdout) == (0, "alice@example.com: removed\n"), result.stderr
    result = passwd(posthorn_bin, config, "remove", "alice@example.com")
    assert result.returncode == 1
    assert "alice@example.com: no such user" in result.stderr
    result = passwd(posthorn_bin, config, "list")
    assert (result.returncode, result.stdout) == (0, "bob\n"), result.stderr


def test_comments_and_foreign_hashes_survive_a_rewrite(posthorn_bin, tmp_path):
    users = tmp_path / "passwd"
    bcrypt_line = "carol:$2y$04$kiwSgv8RXLcfpJ7ZAGCtAuRiXhw423GgpjM5v76loOt19uAOY2He6"
    users.write_text(f"# submission users\n{bcrypt_line}\n")
    config = write_config(tmp_path, {"password_file": str(users)})
    result = passwd(posthorn_bin, config, "add", "dave", stdin="pw\n")
    assert result.returncode == 0, result.stderr
    lines = users.read_text().splitlines()
    assert lines[:2] == ["# submission users", bcrypt_line]
    assert lines[2].startswith("dave:$argon2id$")
    assert passwd(posthorn_bin, config, "list").stdout == "carol\ndave\n"


def test_bad_input_is_refused(posthorn_bin, tmp_path):
    users = tmp_path / "passwd"
    config = write_config(tmp_path, {"password_file": str(users)})
    for stdin in ["", "\n"]:
        result = passwd(posthorn_bin, config, "add", "alice", stdin=stdin)
        assert result.returncode == 65, (stdin, result.stderr)
    assert "empty password refused" in result.stderr
    result = passwd(posthorn_bin, config, "add", "al:ice", stdin="pw\n")
    assert result.returncode == 64 and "':'" in result.stderr, result.stderr
    assert not users.exists()


def test_no_password_file_configured_is_a_config_error(posthorn_bin, tmp_path):
    config = write_config(tmp_path, None)
    for args in (["list"], ["add", "alice"], ["remove", "alice"]):
        result = passwd(posthorn_bin, config, *args, stdin="pw\n")
        assert result.returncode == 78, (args, result.stderr)
        assert "auth.password_file" in result.stderr and str(config) in result.stderr
    config = write_config(tmp_path, {"dovecot_socket": "/run/dovecot/auth-client"})
    result = passwd(posthorn_bin, config, "list")
    assert result.returncode == 78 and "auth.password_file" in result.stderr
