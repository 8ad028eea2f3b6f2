"""parse_document: bytes in, sections out, whatever the format."""

from __future__ import annotations

from collections.abc import Callable

from core.documents.detect import detect_format
from core.documents.errors import DocumentError
from workers.documents.formats_html import parse_html
from workers.documents.formats_office import parse_docx, parse_pdf
from workers.documents.formats_text import parse_markdown, parse_text
from workers.documents.formats_transcript import parse_srt, parse_vtt
from workers.documents.model import ParsedDocument, declared_charset

# The API answers 413 above its own upload limit; this guards a parser that is called directly.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024

Parser = Callable[..., ParsedDocument]
PARSERS: dict[str, Parser] = {
    "text": parse_text,
    "markdown": parse_markdown,
    "html": parse_html,
    "pdf": parse_pdf,
    "docx": parse_docx,
    "srt": parse_srt,
    "vtt": parse_vtt,
}


def parse_document(
    data: bytes,
    *,
    filename: str | None,
    content_type: str | None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> ParsedDocument:
    """Parse one document into titled, ordered sections; raise DocumentError with a stable code.

    A ZIP is refused (`unsupported_type`): unpack archives with iter_archive and parse each
    member. metadata always has "filename" and "bytes"; parsers add their own ("pages",
    "cues", "duration_s", "front_matter", "header").
    """
    if len(data) > max_bytes:
        raise DocumentError("too_large", f"the document is {len(data)} bytes (limit {max_bytes})")
    if not data.strip():
        raise DocumentError("empty_document", "the document is empty")
    fmt = detect_format(filename, content_type, data)
    if fmt == "zip":
        message = "a ZIP archive is not a document: unpack it with iter_archive"
        raise DocumentError("unsupported_type", message)
    if fmt == "recording":
        message = "a recording is transcribed, not parsed: see workers/recordings"
        raise DocumentError("unsupported_type", message)
    document = PARSERS[fmt](data, charset=declared_charset(content_type))
    if not any(section.text.strip() for section in document.sections):
        raise DocumentError("empty_document", f"the {fmt} document has no text")
    document.metadata = {"filename": filename, "bytes": len(data), **document.metadata}
    return document
