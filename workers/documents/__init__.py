"""Document processing for the `ingest` job: detect, parse, unpack archives, chunk.

Pure functions over bytes: no database, no Celery. Errors are DocumentError with a stable
`code`. The format libraries (pypdf, python-docx, beautifulsoup4 + lxml) are needed only
where documents are parsed.
"""

from core.documents.detect import FORMATS, detect_format
from core.documents.errors import ERROR_STATUS, DocumentError
from workers.documents.archive import iter_archive
from workers.documents.chunking import (
    DEFAULT_OVERLAP_TOKENS,
    DEFAULT_TARGET_TOKENS,
    MINILM_OVERLAP_TOKENS,
    MINILM_TARGET_TOKENS,
    Chunk,
    approx_token_count,
    chunk_document,
)
from workers.documents.model import ParsedDocument, Section
from workers.documents.parse import MAX_DOCUMENT_BYTES, parse_document

__all__ = [
    "DEFAULT_OVERLAP_TOKENS",
    "DEFAULT_TARGET_TOKENS",
    "ERROR_STATUS",
    "FORMATS",
    "MAX_DOCUMENT_BYTES",
    "MINILM_OVERLAP_TOKENS",
    "MINILM_TARGET_TOKENS",
    "Chunk",
    "DocumentError",
    "ParsedDocument",
    "Section",
    "approx_token_count",
    "chunk_document",
    "detect_format",
    "iter_archive",
    "parse_document",
]
