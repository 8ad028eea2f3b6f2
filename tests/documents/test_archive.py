"""ZIP archives: members out, unsafe paths, bombs and nesting refused before anything is yielded."""

from __future__ import annotations

import io
import stat
import struct
import zipfile

import docx
import pytest

from workers.documents import DocumentError, iter_archive, parse_document


def make_zip(
    members: list[tuple[str | zipfile.ZipInfo, bytes]], *, compression: int = zipfile.ZIP_DEFLATED
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def refusal(data: bytes, **limits: int) -> DocumentError:
    yielded: list[str] = []
    with pytest.raises(DocumentError) as caught:
        for name, _ in iter_archive(data, **limits):
            yielded.append(name)
    assert yielded == [], "the whole archive is refused before any member comes out"
    return caught.value


def test_regular_members_come_out_in_order_without_directories_or_junk() -> None:
    data = make_zip(
        [
            ("course/", b""),
            ("course/notes.md", b"# Notes"),
            ("course/.DS_Store", b"\x00\x00\x00\x01Bud1"),
            ("__MACOSX/course/._notes.md", b"\x00\x05\x16\x07"),
            ("course/lecture.srt", b"1\n00:00:01,000 --> 00:00:02,000\nHi\n"),
            ("readme.txt", b"read me"),
        ]
    )
    assert list(iter_archive(data)) == [
        ("course/notes.md", b"# Notes"),
        ("course/lecture.srt", b"1\n00:00:01,000 --> 00:00:02,000\nHi\n"),
        ("readme.txt", b"read me"),
    ]


def test_a_docx_inside_an_archive_is_a_document_not_a_nested_zip() -> None:
    buffer = io.BytesIO()
    docx.Document().save(buffer)
    assert [name for name, _ in iter_archive(make_zip([("guide.docx", buffer.getvalue())]))] == ["guide.docx"]


@pytest.mark.parametrize(
    "name",
    [
        "../evil.txt",
        "/etc/passwd",
        "notes/../../evil.txt",
        "..\\evil.txt",
        "C:/Windows/evil.txt",
        "c:evil.txt",
    ],
)
def test_unsafe_member_paths_fail_the_whole_archive(name: str) -> None:
    # The bad member comes last: the good ones before it must not come out either.
    data = make_zip([("good.txt", b"fine"), ("also-good.md", b"# ok"), (name, b"pwned")])
    error = refusal(data)
    assert error.code == "archive_unsafe_path"
    assert error.member == name.replace("\\", "/")
    assert name.replace("\\", "/") in error.message


def test_a_symbolic_link_member_is_unsafe() -> None:
    link = zipfile.ZipInfo("notes.txt")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    error = refusal(make_zip([(link, b"/etc/passwd")]))
    assert error.code == "archive_unsafe_path"


def test_a_zip_bomb_is_stopped_by_the_unpacked_total() -> None:
    # 3 MB of zeros deflate to a few kilobytes: far past a 1 MB budget once unpacked.
    data = make_zip([("ok.txt", b"small"), ("bomb.txt", b"\x00" * 3_000_000)])
    assert len(data) < 20_000
    error = refusal(data, max_total_bytes=1_000_000)
    assert error.code == "archive_too_large"
    assert error.member == "bomb.txt"


def test_members_that_together_exceed_the_total_are_refused() -> None:
    data = make_zip([(f"part-{i}.txt", b"a" * 400_000) for i in range(4)])
    error = refusal(data, max_total_bytes=1_000_000, max_member_bytes=500_000)
    assert error.code == "archive_too_large"
    assert error.member == "part-2.txt"


def test_one_member_over_its_own_limit_is_refused() -> None:
    error = refusal(make_zip([("big.txt", b"b" * 600_000)]), max_member_bytes=500_000)
    assert error.code == "archive_too_large"
    assert "big.txt" in error.message


def test_too_many_members_are_refused() -> None:
    data = make_zip([(f"note-{i}.txt", b"x") for i in range(6)])
    assert refusal(data, max_members=5).code == "archive_too_large"
    assert len(list(iter_archive(data, max_members=6))) == 6


def _understate_sizes(data: bytes, name: bytes, size: int) -> bytes:
    """Rewrite the uncompressed size of member `name` in its local and central headers."""
    patched = bytearray(data)
    local = patched.find(b"PK\x03\x04")
    while local != -1:
        name_length = struct.unpack_from("<H", patched, local + 26)[0]
        if bytes(patched[local + 30 : local + 30 + name_length]) == name:
            struct.pack_into("<I", patched, local + 22, size)
        local = patched.find(b"PK\x03\x04", local + 4)
    central = patched.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", patched, central + 28)[0]
        if bytes(patched[central + 46 : central + 46 + name_length]) == name:
            struct.pack_into("<I", patched, central + 24, size)
        central = patched.find(b"PK\x01\x02", central + 4)
    return bytes(patched)


def test_headers_that_understate_the_size_are_not_trusted() -> None:
    # The header says 100 bytes; the member inflates to 3 MB. zipfile stops at the declared
    # size and then fails the CRC check: the member is refused and no truncated content
    # comes out. (Were it to read on, the byte counter would stop it at the limit.)
    data = _understate_sizes(make_zip([("bomb.txt", b"\x00" * 3_000_000)]), b"bomb.txt", 100)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.getinfo("bomb.txt").file_size == 100
    error = refusal(data, max_total_bytes=1_000_000)
    assert error.code == "corrupt_document"
    assert error.member == "bomb.txt"


@pytest.mark.parametrize("name", ["inner.zip", "inner.txt"])
def test_a_zip_inside_a_zip_is_refused_by_name_or_content(name: str) -> None:
    inner = make_zip([("secret.txt", b"nested")])
    error = refusal(make_zip([("outer.txt", b"x"), (name, inner)]))
    assert error.code == "archive_nested"
    assert error.member == name


def test_not_a_zip_is_corrupt() -> None:
    assert refusal(b"PK\x03\x04 but then nothing useful").code == "corrupt_document"
    good = make_zip([("a.txt", b"hello " * 1000)])
    assert refusal(good[: len(good) // 2]).code == "corrupt_document"


def test_a_member_with_a_bad_checksum_is_corrupt() -> None:
    data = bytearray(make_zip([("a.txt", b"hello world")], compression=zipfile.ZIP_STORED))
    data[data.find(b"hello world")] = ord("j")
    error = refusal(bytes(data))
    assert error.code == "corrupt_document"
    assert error.member == "a.txt"


def test_each_member_is_its_own_document_and_a_bad_one_fails_alone() -> None:
    data = make_zip(
        [
            ("notes.md", b"# Notes\n\nSpacing works."),
            ("diagram.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
            ("empty.txt", b""),
            ("legacy.txt", "caf\u00e9".encode("latin-1")),
            ("talk.vtt", b"WEBVTT\n\n00:01.000 --> 00:02.000\nHello."),
        ]
    )
    outcomes: dict[str, str] = {}
    for name, content in iter_archive(data):
        try:
            outcomes[name] = parse_document(content, filename=name, content_type=None).format
        except DocumentError as exc:
            outcomes[name] = exc.code
    assert outcomes == {
        "notes.md": "markdown",
        "diagram.png": "unsupported_type",
        "empty.txt": "empty_document",
        "legacy.txt": "invalid_encoding",
        "talk.vtt": "vtt",
    }
