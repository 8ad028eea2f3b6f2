"""A job row that no worker is ever sent, for tests that run the worker's runtime in their own process."""

from __future__ import annotations

import json
import uuid

from db.session import sync_session_factory
from db.system import ensure_system_user
from tests.support.stack import Stack


def held_job(
    stack: Stack,
    *,
    webhook_url: str | None = None,
    webhook_events: list[str] | None = None,
    max_attempts: int = 1,
) -> uuid.UUID:
    """A queued `debug.sleep` job of the system user, held: the reconciler never sends it, so it
    runs only where the test calls `workers.runtime.run_job`. One attempt unless told."""
    with sync_session_factory()() as session:
        owner = ensure_system_user(session)
        session.commit()
    job_id = uuid.uuid4()
    stack.sql(
        "INSERT INTO jobs (id, kind, owner_id, status, input, attempts, max_attempts, queue, priority, held, "
        "webhook_url, webhook_events) VALUES (%s, 'debug.sleep', %s, 'queued', '{}', 0, %s, 'cpu', 0, true, "
        "%s, %s::jsonb)",
        job_id,
        owner,
        max_attempts,
        webhook_url,
        json.dumps(webhook_events) if webhook_events is not None else None,
    )
    return job_id
