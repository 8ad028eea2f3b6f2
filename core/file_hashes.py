"""A file's sha256, remembered per process while the file stays the same: model files of tens or
hundreds of megabytes are checked at every worker start and every load, and hashed once."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 4 * 2**20  # bytes read at a time while hashing

_known: dict[tuple[str, int, int, int], str] = {}  # (path, inode, size, mtime) -> its sha256


def sha256_of(path: Path) -> str:
    """The file's sha256, remembered while its inode, size and modification time stay the same."""
    stat = path.stat()
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _known:
        digest = hashlib.sha256()
        with path.open("rb") as file:
            while block := file.read(CHUNK):
                digest.update(block)
        _known[key] = digest.hexdigest()
    return _known[key]
