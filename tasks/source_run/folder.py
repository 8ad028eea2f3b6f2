"""A folder source: its files as items, and reading one file safely.

The walk never follows a symlinked directory (no loops, no escape) and stops after a bounded
number of entries. Every entry that is not a directory is an item, so what cannot be read shows
up in the run log with a code instead of being skipped silently: a broken symlink, a symlink
leading out of the root, a FIFO, socket or device, a symlink to a directory, a file over the
byte cap. Hidden names (starting with '.') are skipped: editors' and version control's files.

Reading opens the file non-blocking (a FIFO with no writer would otherwise block the run for
ever), then checks on the open descriptor that it is a regular file under the cap and that it
really lies inside the root (a directory swapped for a symlink after the check is caught too).
"""

from __future__ import annotations

import itertools
import os
import stat
from pathlib import Path

from core.sources import inside
from tasks.source_run.errors import ItemError, ListingError
from tasks.source_run.listing import Listing

READ_CHUNK = 1024 * 1024


def list_folder(folder: Path, *, max_entries: int) -> Listing:
    """Files under `folder` (resolved, inside the root), breadth first, sorted by name per folder."""
    if not folder.is_dir():
        raise ListingError("folder_not_found", f"{str(folder)!r} is not a folder on this worker")
    listing = Listing([])
    pending = [folder]
    seen = 0
    while pending:
        directory = pending.pop(0)
        try:
            with os.scandir(directory) as entries:
                batch = sorted(itertools.islice(entries, max_entries - seen + 1), key=lambda e: e.name)
        except OSError as error:
            problem = {"item": str(directory), "code": "unreadable", "detail": _reason(error)}
            listing.problems.append(problem)
            continue
        for entry in batch:
            if entry.name.startswith("."):
                continue
            seen += 1
            if seen > max_entries:
                listing.cut = True
                return listing
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
            else:
                listing.items.append(entry.path)
    return listing


def read_file(path: str, *, root: Path, max_bytes: int) -> bytes:
    """The bytes of one listed file; ItemError (broken_symlink, outside_root, not_a_regular_file,
    too_large, unreadable) for anything that is not a readable regular file inside the root."""
    try:
        if os.path.islink(path) and not os.path.exists(path):
            raise ItemError("broken_symlink", f"it points to {os.readlink(path)!r}, which does not exist")
        resolved = Path(os.path.realpath(path))
    except OSError as error:
        raise ItemError("unreadable", _reason(error)) from None
    if not inside(resolved, root):
        raise ItemError("outside_root", f"it resolves to {str(resolved)!r}, outside {str(root)!r}")
    try:
        fd = os.open(resolved, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as error:
        raise ItemError("unreadable", _reason(error)) from None
    try:
        opened = _opened_path(fd)
        if opened is not None and not inside(opened, root):
            raise ItemError("outside_root", f"it was opened at {str(opened)!r}, outside {str(root)!r}")
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ItemError("not_a_regular_file", f"it is {_what(info.st_mode)}, not a file")
        if info.st_size > max_bytes:
            raise ItemError("too_large", f"it is {info.st_size} bytes, over the {max_bytes}-byte limit")
        return _read_capped(fd, max_bytes)
    except OSError as error:
        raise ItemError("unreadable", _reason(error)) from None
    finally:
        os.close(fd)


def _read_capped(fd: int, max_bytes: int) -> bytes:
    """Read to the end, refusing once over the cap (a file that grew since fstat)."""
    os.set_blocking(fd, True)
    data = bytearray()
    while chunk := os.read(fd, READ_CHUNK):
        data += chunk
        if len(data) > max_bytes:
            raise ItemError("too_large", f"it grew past the {max_bytes}-byte limit while it was read")
    return bytes(data)


def _opened_path(fd: int) -> Path | None:
    """Where the open file really is (Linux's /proc), or None where that cannot be told."""
    link = f"/proc/self/fd/{fd}"
    try:
        return Path(os.readlink(link))
    except OSError:
        return None


def _what(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__
