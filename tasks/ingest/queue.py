"""Queueing an ingest where a document's text changed outside the ingest kind (a profile's wiki).

A new text supersedes the ingest of the old one: that job is canceled and a new one created, in the
caller's transaction (its unit of work publishes the job). Light on purpose, like a spec: no worker
code, so the API's services call it as the profile_ingest task does.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from db.jobs import cancel_job_sync, create_job
from db.models import Document
from tasks.ingest.spec import SPEC


def queue_ingest(session: Session, *, document: Document | None, superseded: uuid.UUID | None) -> None:
    """Cancel `superseded` (if still active), then queue `document`'s ingest (when there is one)."""
    if superseded is not None:
        cancel_job_sync(session, job_id=superseded)
    if document is not None:
        job = create_job(session, SPEC, input={"document_id": str(document.id)}, owner_id=document.owner_id)
        document.ingest_job_id = job.id
