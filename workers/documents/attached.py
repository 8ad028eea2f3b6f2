"""A job's attached file as plain text: the source of a profile ingestion, the CV of a match."""

from __future__ import annotations

import uuid

from core.documents.errors import DocumentError
from db import attachments
from db.unit_of_work import unit_of_work
from workers.documents.parse import parse_document
from workers.errors import JobFailure


def attachment_text(job_id: uuid.UUID, *, max_bytes: int, what: str) -> str:
    """The attachment parsed with the knowledge store's parsers, its sections joined; a job failure
    `source_missing` when it is gone, or the parser's code when it cannot be read."""
    with unit_of_work() as session:
        source = attachments.attachment(session, job_id=job_id)
        if source is None:
            raise JobFailure("source_missing", f"the job's {what} is gone")
        content, filename, content_type = source.content, source.filename, source.content_type
    try:
        parsed = parse_document(content, filename=filename, content_type=content_type, max_bytes=max_bytes)
    except DocumentError as error:
        raise JobFailure(error.code, error.message) from error
    return "\n\n".join(section.text for section in parsed.sections if section.text.strip())
