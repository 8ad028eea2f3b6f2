"""Secrets a local stack keeps in its state dir (devstack/state_secrets.py): the dev SECRET_KEY and the
embedded Redis's password."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from devstack.state_secrets import MIN_SECRET_CHARS, state_secret
from devstack.supervisor import SECRET_FILE, dev_secret_key


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_secret_is_generated_once_random_and_private(tmp_path: Path) -> None:
    first = state_secret(tmp_path / "state", "redis_password")
    assert len(first) >= MIN_SECRET_CHARS
    assert state_secret(tmp_path / "state", "redis_password") == first
    assert state_secret(tmp_path / "other", "redis_password") != first
    assert mode(tmp_path / "state" / "redis_password") == 0o600
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["redis_password"]  # no temporary left


def test_a_secret_file_others_could_read_is_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "redis_password"
    path.write_text("x" * 64 + "\n")
    os.chmod(path, 0o644)
    assert state_secret(tmp_path, "redis_password") == "x" * 64
    assert mode(path) == 0o600


def test_an_empty_or_cut_short_secret_is_replaced(tmp_path: Path) -> None:
    """An empty Redis password would be no password at all."""
    for leftover in ("", "\n", "short"):
        (tmp_path / "redis_password").write_text(leftover)
        value = state_secret(tmp_path, "redis_password")
        assert len(value) >= MIN_SECRET_CHARS
        assert (tmp_path / "redis_password").read_text().strip() == value


def test_the_dev_secret_key_is_one_of_them(tmp_path: Path) -> None:
    key = dev_secret_key(tmp_path)
    assert (tmp_path / SECRET_FILE).read_text().strip() == key and mode(tmp_path / SECRET_FILE) == 0o600
