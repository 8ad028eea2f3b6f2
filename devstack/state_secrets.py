"""Secrets a local stack makes for itself (the dev SECRET_KEY, the embedded Redis's password): random,
generated once, kept in the state dir in files only their owner can read (0600)."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

MIN_SECRET_CHARS = 32


def state_secret(state_dir: Path, name: str) -> str:
    """The secret stored as `state_dir/name`, generated (URL-safe, 64 characters) on first use.

    A file another user could read is narrowed to 0600; one that is empty or too short (a write cut
    short) is replaced: an empty Redis password would mean no password at all."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return _write_new(path)
    with os.fdopen(fd) as f:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            os.fchmod(fd, 0o600)
        value = f.read().strip()
    return value if len(value) >= MIN_SECRET_CHARS else _write_new(path)


def _write_new(path: Path) -> str:
    value = secrets.token_urlsafe(48)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # O_EXCL: never write through a file or link someone placed there; replace() makes it appear whole.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.replace(tmp, path)
    return value
