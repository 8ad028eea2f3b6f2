"""Bytes kept beside a job for its worker to read (a profile source), deleted with the job."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from db.models import JobAttachment


def attach(
    session: Session, *, job_id: uuid.UUID, content: bytes, filename: str | None, content_type: str | None
) -> None:
    session.add(JobAttachment(job_id=job_id, filename=filename, content_type=content_type, content=content))


def attachment(session: Session, *, job_id: uuid.UUID) -> JobAttachment | None:
    return session.get(JobAttachment, job_id)
