"""ZIP archives: each regular member is its own document, unpacked under hard limits.

All or nothing: an archive either yields every one of its members or raises before it
yields the first. A member with an unsafe path, a nested ZIP, an encrypted or unreadable
member, or any limit exceeded fails the WHOLE archive, with the member named. Why not skip
the offending member and ingest the rest: a traversal name or a bomb says the archive was
built to attack or is broken, and a partial import that the uploader may never notice is
worse than one clear error. Per-member problems that are no threat (an unsupported or
empty file inside) are not decided here: parse_document reports them member by member.

To decide before the first yield, the archive is inflated twice: once to measure and
check (bytes are counted while inflating, in chunks, and thrown away), once to yield.
Inflating is cheap next to parsing and embedding, and memory stays at one member.
The sizes a ZIP header declares are used only to refuse early, never to allow.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator

from core.documents.detect import ZIP_MAGIC, zip_kind
from core.documents.errors import DocumentError

MAX_MEMBERS = 1000
MAX_TOTAL_BYTES = 200 * 1024 * 1024
MAX_MEMBER_BYTES = 50 * 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024
# Entries of any kind (directories and skipped junk included) an archive may list.
MAX_ENTRIES_FACTOR = 10

_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
# What zipfile raises for an archive or member it cannot read.
_UNREADABLE = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)
_JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


def iter_archive(
    data: bytes,
    *,
    max_members: int = MAX_MEMBERS,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_member_bytes: int = MAX_MEMBER_BYTES,
) -> Iterator[tuple[str, bytes]]:
    """(member name, content) for each regular file, in archive order.

    Skips directories and macOS/Windows junk (__MACOSX/, .DS_Store, ._*, Thumbs.db).
    Checks the whole archive when called, so it raises DocumentError before anything is
    yielded: archive_unsafe_path, archive_nested, archive_too_large (too many members, the
    total or one member over its limit) or corrupt_document.
    """
    archive = _open(data)
    members = _members(archive, max_members=max_members)
    total = 0
    for info in members:  # first pass: measure and check, keep nothing
        _, total = _inflate(archive, info, total, max_total_bytes, max_member_bytes, keep=False)

    def contents() -> Iterator[tuple[str, bytes]]:
        running = 0
        for info in members:
            content, running = _inflate(archive, info, running, max_total_bytes, max_member_bytes, keep=True)
            yield _name(info), content

    return contents()


def check_inflated_size(
    data: bytes, *, max_members: int, max_total_bytes: int, code: str = "archive_too_large"
) -> int:
    """Inflate every member of a ZIP-based file (a DOCX), counting bytes; raise `code` past a limit."""
    archive = _open(data)
    infos = [info for info in archive.infolist() if not info.is_dir()]
    if len(infos) > max_members:
        raise DocumentError(code, f"the file holds {len(infos)} parts (limit {max_members})")
    total = 0
    try:
        for info in infos:
            # Embedded packages (an .xlsx inside a .docx) are ZIPs and are fine here.
            _, total = _inflate(
                archive, info, total, max_total_bytes, max_total_bytes, keep=False, nested_check=False
            )
    except DocumentError as exc:
        if exc.code == "archive_too_large":
            raise DocumentError(code, exc.message, member=exc.member) from None
        raise
    return total


def _open(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except _UNREADABLE as exc:
        raise DocumentError("corrupt_document", f"not a readable ZIP archive: {exc}") from exc


def _members(archive: zipfile.ZipFile, *, max_members: int) -> list[zipfile.ZipInfo]:
    """The regular, non-junk members, after checking every entry's name and type."""
    infos = archive.infolist()
    if len(infos) > max_members * MAX_ENTRIES_FACTOR:
        raise DocumentError("archive_too_large", f"the archive lists {len(infos)} entries")
    members: list[zipfile.ZipInfo] = []
    for info in infos:
        name = _name(info)
        if _is_unsafe(name):
            raise DocumentError("archive_unsafe_path", f"unsafe path in archive: {name!r}", member=name)
        if _is_symlink(info):
            raise DocumentError("archive_unsafe_path", f"symbolic link in archive: {name!r}", member=name)
        if info.is_dir() or _is_junk(name):
            continue
        if info.flag_bits & 0x1:
            raise DocumentError("corrupt_document", f"encrypted member in archive: {name!r}", member=name)
        if name.lower().endswith(".zip"):
            raise DocumentError("archive_nested", f"a ZIP inside the archive: {name!r}", member=name)
        members.append(info)
        if len(members) > max_members:
            raise DocumentError("archive_too_large", f"the archive holds more than {max_members} files")
    return members


def _inflate(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    total: int,
    max_total_bytes: int,
    max_member_bytes: int,
    *,
    keep: bool,
    nested_check: bool = True,
) -> tuple[bytes, int]:
    """Inflate one member in chunks, counting; returns (content or b"", running total)."""
    name = _name(info)
    # Declared sizes can lie, so they only ever refuse early.
    if info.file_size > max_member_bytes or total + info.file_size > max_total_bytes:
        raise _too_large(name, total + info.file_size, max_total_bytes, info.file_size, max_member_bytes)
    size = 0
    parts: list[bytes] = []
    head = b""
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(READ_CHUNK_BYTES):
                size += len(chunk)
                total += len(chunk)
                if size > max_member_bytes or total > max_total_bytes:
                    raise _too_large(name, total, max_total_bytes, size, max_member_bytes)
                if not head:
                    head = chunk[:4]
                if keep or (nested_check and head.startswith(ZIP_MAGIC)):
                    parts.append(chunk)
    except _UNREADABLE as exc:
        # Bad CRC, truncated data, an unsupported compression method, an encrypted entry.
        message = f"archive member {name!r} cannot be read: {exc}"
        raise DocumentError("corrupt_document", message, member=name) from exc
    content = b"".join(parts)
    if nested_check and head.startswith(ZIP_MAGIC) and zip_kind(content) == "zip":
        raise DocumentError("archive_nested", f"a ZIP inside the archive: {name!r}", member=name)
    return (content if keep else b""), total


def _too_large(name: str, total: int, max_total: int, size: int, max_member: int) -> DocumentError:
    if size > max_member:
        message = f"archive member {name!r} unpacks to more than {max_member} bytes"
    else:
        message = f"the archive unpacks to more than {max_total} bytes (at member {name!r})"
    return DocumentError("archive_too_large", message, member=name)


def _name(info: zipfile.ZipInfo) -> str:
    return info.filename.replace("\\", "/")


def _is_unsafe(name: str) -> bool:
    return (
        name.startswith("/") or bool(_DRIVE_LETTER.match(name)) or ".." in name.split("/") or "\x00" in name
    )


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _is_junk(name: str) -> bool:
    parts = name.split("/")
    base = parts[-1]
    return "__MACOSX" in parts or base in _JUNK_NAMES or base.startswith("._")
