"""What a parser returns, and the text clean-up and decoding every parser shares."""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from core.documents.errors import DocumentError


@dataclass
class Section:
    """A run of text under one heading path: a Markdown/HTML/DOCX section, a PDF page, a cue."""

    text: str
    heading_path: list[str]
    start_s: float | None = None
    end_s: float | None = None
    page: int | None = None
    speaker: str | None = None  # who says a cue, where the transcript names it


@dataclass
class ParsedDocument:
    """A parsed document: its format, a title when the document names one, and its sections in order."""

    format: str
    title: str | None
    sections: list[Section]
    metadata: dict[str, Any] = field(default_factory=dict)


# C0 controls other than tab and newline, and DEL. NUL in particular: PostgreSQL text
# columns refuse it, and PDF text extraction produces it now and then.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0c\x85\u2028\u2029]")
_TRAILING_SPACE = re.compile(r"[ \t\u00a0]+$", re.M)
_BLANK_RUNS = re.compile(r"\n{3,}")

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)


def clean_text(text: str) -> str:
    """Normalise line breaks and Unicode (NFC), drop control characters and trailing spaces."""
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROL.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = _TRAILING_SPACE.sub("", text)
    text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip("\n")


def declared_charset(content_type: str | None) -> str | None:
    """The charset parameter of a content type, if any."""
    match = _CHARSET.search(content_type or "")
    return match.group(1) if match else None


def decode_text(data: bytes, *, declared: str | None = None) -> str:
    """Decode a text document: UTF-8 (a BOM is fine), or a charset the sender declared.

    Nothing is guessed. Valid UTF-8 wins; otherwise a declared charset is used strictly;
    otherwise the document fails with `invalid_encoding`.
    """
    if data.startswith(_UTF16_BOMS):
        raise DocumentError("invalid_encoding", "the document is UTF-16; only UTF-8 text is accepted")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as utf8_error:
        if declared and _normalized_codec(declared) not in (None, "utf-8"):
            try:
                return data.decode(declared)
            except (UnicodeDecodeError, LookupError):
                pass
        bad = data[utf8_error.start : utf8_error.start + 1]
        message = f"the document is not valid UTF-8 (byte {utf8_error.start}: {bad!r})"
        raise DocumentError("invalid_encoding", message) from None


def _normalized_codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None
