"""Beat-driven retention: jobs finished longer ago than MENTORQ_JOB_RETENTION_DAYS, deleted in batches
(and expired revocations and cached answers)."""

from __future__ import annotations

import logging

from core.platform_tasks import RETENTION, RETENTION_BUDGET_S
from core.settings import get_settings
from db import ask as ask_queries
from db import retention, users
from db.unit_of_work import unit_of_work
from workers.celery_app import platform_task

log = logging.getLogger(__name__)


@platform_task(RETENTION)
def purge_expired_jobs() -> dict[str, int | bool]:
    """Delete jobs finished more than the retention period ago, in batches; safe to run anywhere, any time.

    A run stops between batches after its budget, so one maintenance worker process is not held
    for long while the reconciler waits behind it; the next run carries on."""
    with unit_of_work() as session:  # expired tokens are refused anyway; their revocations can go
        revocations = users.delete_expired_revocations(session)
        # Expired answers are never served; this only keeps the table small.
        cached_answers = ask_queries.delete_expired(session)
    days = get_settings().job_retention_days
    if days == 0:
        return {"disabled": True, "revocations": revocations, "cached_answers": cached_answers}
    deleted, done = retention.purge_expired_jobs(unit_of_work, days=days, budget_s=RETENTION_BUDGET_S)
    log.info(
        "retention: deleted %s (finished more than %d days ago)%s",
        deleted,
        days,
        "" if done else "; time budget spent, the next run goes on",
    )
    return {**vars(deleted), "done": done, "revocations": revocations, "cached_answers": cached_answers}
