"""PDF (pypdf) and DOCX (python-docx)."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from core.documents.errors import DocumentError
from workers.documents.archive import check_inflated_size
from workers.documents.model import ParsedDocument, Section, clean_text

if TYPE_CHECKING:
    from docx.table import _Row
    from docx.text.paragraph import Paragraph
    from pypdf import PdfReader

# A DOCX is a ZIP: refuse one that would inflate past these before python-docx unpacks it.
DOCX_MAX_PARTS = 10_000
DOCX_MAX_INFLATED_BYTES = 200 * 1024 * 1024

_HEADING_STYLE = re.compile(r"^heading\s*([1-6])$", re.I)


def parse_pdf(data: bytes, *, charset: str | None = None) -> ParsedDocument:
    """PDF: one section per page that has text, numbered from 1."""
    from pypdf import PdfReader  # imported here: only parsing hosts need it

    sections: list[Section] = []
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("corrupt_document", "the PDF is encrypted with a password")
        page_count = len(reader.pages)
        for number, page in enumerate(reader.pages, start=1):
            text = clean_text(page.extract_text() or "")
            if text.strip():
                sections.append(Section(text=text, heading_path=[], page=number))
        title = _pdf_title(reader)
    except DocumentError:
        raise
    except Exception as exc:
        # pypdf reports a broken file with whatever the broken structure trips over (its own
        # PdfReadError, but also KeyError, TypeError, zlib.error, RecursionError...).
        raise DocumentError("corrupt_document", f"the PDF cannot be read: {_describe(exc)}") from exc
    if not sections:
        raise DocumentError(
            "empty_document",
            f"the PDF has no extractable text on any of its {page_count} pages (scanned? it needs OCR)",
        )
    return ParsedDocument(format="pdf", title=title, sections=sections, metadata={"pages": page_count})


def _pdf_title(reader: PdfReader) -> str | None:
    try:
        info = reader.metadata
        title = info.title if info else None
    except Exception:  # noqa: BLE001 - a broken info dictionary costs the title, not the document
        return None
    title = clean_text(str(title)) if title else ""
    return title or None


def parse_docx(data: bytes, *, charset: str | None = None) -> ParsedDocument:
    """DOCX: body paragraphs and tables in order; Heading 1..6 styles build the heading path."""
    import docx  # python-docx
    from docx.table import Table

    check_inflated_size(
        data, max_members=DOCX_MAX_PARTS, max_total_bytes=DOCX_MAX_INFLATED_BYTES, code="too_large"
    )
    try:
        document = docx.Document(io.BytesIO(data))
        title = (document.core_properties.title or "").strip() or None
        items = list(document.iter_inner_content())
    except Exception as exc:  # not a Word package, a missing part, broken XML: all mean unreadable
        raise DocumentError("corrupt_document", f"the DOCX cannot be read: {_describe(exc)}") from exc

    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    blocks: list[str] = []
    first_heading: str | None = None

    def flush() -> None:
        text = clean_text("\n\n".join(blocks))
        if text.strip():
            sections.append(Section(text=text, heading_path=[name for _, name in stack]))
        blocks.clear()

    for item in items:
        if isinstance(item, Table):
            rows = [_table_row(row) for row in item.rows]
            text = "\n".join(row for row in rows if row)
            if text:
                blocks.append(text)
            continue
        text = item.text.strip()
        if not text:
            continue
        style_name = _style_name(item)
        if style_name.lower() == "title":
            title = title or text
            continue
        level = _heading_level(item)
        if level is not None:
            flush()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, text))
            first_heading = first_heading or (text if level == 1 else None)
            continue
        blocks.append(f"- {text}" if style_name.lower().startswith("list") else text)
    flush()
    return ParsedDocument(format="docx", title=title or first_heading, sections=sections, metadata={})


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _style_name(paragraph: Paragraph) -> str:
    style = paragraph.style
    return (style.name or "") if style is not None else ""


def _heading_level(paragraph: Paragraph) -> int | None:
    """1..6 for a paragraph whose style (or a style it is based on) is "Heading N"."""
    style = paragraph.style
    for _ in range(5):  # base-style chains are short; a cycle must not hang us
        if style is None:
            return None
        for name in (style.name or "", style.style_id or ""):
            match = _HEADING_STYLE.match(name)
            if match:
                return int(match.group(1))
        style = style.base_style
    return None


def _table_row(row: _Row) -> str:
    cells: list[str] = []
    for cell in row.cells:
        text = " ".join(cell.text.split())
        if text and (not cells or cells[-1] != text):  # a merged cell repeats across the columns it spans
            cells.append(text)
    return " | ".join(cells)
