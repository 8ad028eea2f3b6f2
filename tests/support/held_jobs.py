"""A job row that no worker is ever sent, for tests that run the worker's runtime in their own process."""

from __future__ import annotations

import json
import uuid

from tests.support.stack import Stack


def held_job(
    stack: Stack,
    *,
    webhook_url: str | None = None,
    webhook_events: list[str] | None = None,
    max_attempts: int = 1,
) -> uuid.UUID:
    """A queued `debug.sleep` job, held and of no owner: nothing sends it, so it runs only where the
    test calls `workers.runtime.run_job`. One attempt unless told.

    Held, so the reconciler's dispatch pass leaves it; of no owner, because its admission pass
    releases a user's held jobs whenever that user has room in the LLM lane (db/admission.py), and
    the system user always has: a held job of that user was sent within the beat's second and
    claimed by the stack's worker before the test could (a CI run's test_pulse failure)."""
    job_id = uuid.uuid4()
    stack.sql(
        "INSERT INTO jobs (id, kind, owner_id, status, input, attempts, max_attempts, queue, priority, held, "
        "webhook_url, webhook_events) "
        "VALUES (%s, 'debug.sleep', NULL, 'queued', '{}', 0, %s, 'cpu', 0, true, %s, %s::jsonb)",
        job_id,
        max_attempts,
        webhook_url,
        json.dumps(webhook_events) if webhook_events is not None else None,
    )
    return job_id
