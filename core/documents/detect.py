"""Which format a document is in: magic bytes first, then the file extension, then the content type.

With neither a known extension nor a useful content type, the content's shape decides:
an SRT cue, an HTML document, else plain text. A recording (audio or video) is known by its
container's signature alone, whatever its name says: it is transcribed (workers/recordings/).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePosixPath

from core.documents.errors import DocumentError

FORMATS = ("text", "markdown", "html", "pdf", "docx", "srt", "vtt", "zip", "recording")

# How much of the head the sniffing looks at (the zip check may use more, see zip_kind).
SNIFF_BYTES = 8192

EXTENSIONS: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".mkd": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".srt": "srt",
    ".vtt": "vtt",
    ".zip": "zip",
}

CONTENT_TYPES: dict[str, str] = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/x-subrip": "srt",
    "application/srt": "srt",
    "text/srt": "srt",
    "text/vtt": "vtt",
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
}

# Content types that say nothing about the content.
_UNINFORMATIVE_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/unknown"}

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; an empty archive

# Formats people upload by mistake: refused whatever their name says, so a PNG called
# notes.txt is "unsupported_type", not "invalid_encoding". Only signatures that text does
# not start with; other binary files contain NUL bytes, which the sniffing refuses too.
_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\x1f\x8b", "gzip archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office file (.doc/.xls/.ppt)"),
    (b"\x7fELF", "executable"),
    (b"{\\rtf1", "RTF document"),
)

# Audio and video containers, by the signature at their start: Ogg, FLAC, an ID3-tagged MP3,
# EBML (WebM, MKV); RIFF (WAV, AVI) and IFF (AIFF) name their kind at byte 8; MP4, M4A and
# QuickTime have `ftyp` at byte 4. A raw MP3 or ADTS AAC stream starts with a frame header.
_RECORDING_MAGIC: tuple[bytes, ...] = (b"OggS", b"fLaC", b"ID3", b"\x1a\x45\xdf\xa3")
_CONTAINER_KINDS = {b"RIFF": (b"WAVE", b"AVI "), b"FORM": (b"AIFF", b"AIFC")}

_WEBVTT = re.compile(rb"\AWEBVTT(?:[ \t\r\n]|\Z)")
_SRT_HEAD = re.compile(rb"\A\s*\d+\s*\r?\n\s*\d{1,3}:\d{2}:\d{2}[,.]\d{1,3}\s*-->", re.ASCII)
_HTML_HEAD = re.compile(
    rb"\A\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.I | re.S
)
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def detect_format(filename: str | None, content_type: str | None, head: bytes) -> str:
    """The format of a document given its name, declared content type and first bytes.

    Returns one of FORMATS or raises DocumentError("unsupported_type"). Pass the whole
    document as `head` when you have it: telling a DOCX from a plain ZIP is then exact.
    """
    by_magic = _by_magic(head)
    if by_magic is not None:
        return by_magic
    suffix = _suffix(filename)
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    media = _media_type(content_type)
    if media in CONTENT_TYPES:
        return CONTENT_TYPES[media]
    if suffix:
        raise DocumentError("unsupported_type", f"unsupported file type {suffix!r} ({filename})")
    if media not in _UNINFORMATIVE_TYPES:
        raise DocumentError("unsupported_type", f"unsupported content type {media!r}")
    return _by_sniffing(head)


def _by_magic(head: bytes) -> str | None:
    sniff = head[:SNIFF_BYTES]
    if sniff.removeprefix(_UTF8_BOM).lstrip().startswith(b"%PDF-"):
        return "pdf"
    if sniff.startswith(ZIP_MAGIC):
        return zip_kind(head)
    if _WEBVTT.match(sniff.removeprefix(_UTF8_BOM)):
        return "vtt"
    if is_recording(sniff):
        return "recording"
    for magic, what in _BINARY_MAGIC:
        if sniff.startswith(magic):
            raise DocumentError("unsupported_type", f"unsupported file type: {what}")
    if sniff.count(b"\x00") * 100 > len(sniff) and not sniff.startswith(_UTF16_BOMS):
        # Binary formats are full of NULs; a stray one in text is dropped by clean_text.
        # UTF-16 text has NULs too; it carries a BOM and fails later as invalid_encoding.
        raise DocumentError("unsupported_type", "unsupported file type: binary data")
    return None


def is_recording(head: bytes) -> bool:
    """Whether the bytes start like an audio or video container this platform transcribes."""
    if head.startswith(_RECORDING_MAGIC) or head[4:8] == b"ftyp":
        return True
    if head[8:12] in _CONTAINER_KINDS.get(head[:4], ()):
        return True
    return _is_mpeg_audio_frame(head[:2])


def _is_mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, a version that is not the reserved one, and layer
    III (MP3) or II (MP2); or layer bits 00 as ADTS, AAC's framing. Layer I is left out: nobody
    uploads it, and its header bytes include FF FE, UTF-16 text's byte order mark."""
    if len(head) < 2 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 0b11, (head[1] >> 1) & 0b11
    if version == 0b01:
        return False
    return layer in (0b01, 0b10) or (layer == 0b00 and version in (0b10, 0b11))


def zip_kind(head: bytes) -> str:
    """'docx' for a Word document, else 'zip'."""
    try:
        with zipfile.ZipFile(io.BytesIO(head)) as archive:
            return "docx" if "word/document.xml" in archive.namelist() else "zip"
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        pass
    # Only the start of the file: Word writes [Content_Types].xml and word/... parts first.
    start = head[:SNIFF_BYTES]
    return "docx" if b"word/" in start and b"[Content_Types].xml" in start else "zip"


def _suffix(filename: str | None) -> str:
    return PurePosixPath((filename or "").replace("\\", "/")).suffix.lower()


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _by_sniffing(head: bytes) -> str:
    """No name, no useful content type: recognise the text formats by their shape."""
    sniff = head[:SNIFF_BYTES].removeprefix(_UTF8_BOM)
    if _SRT_HEAD.match(sniff):
        return "srt"
    if _HTML_HEAD.match(sniff):
        return "html"
    return "text"
