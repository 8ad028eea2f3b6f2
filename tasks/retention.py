"""Beat-driven retention: jobs finished longer ago than MENTORQ_JOB_RETENTION_DAYS, deleted in batches."""

from __future__ import annotations

import logging

from db import retention
from db.session import session_scope
from core.settings import get_settings
from workers.celery_app import app

log = logging.getLogger(__name__)

# A run stops between batches after this; the next run carries on. It keeps one maintenance
# worker process from being held for long while the reconciler waits behind it.
RUN_BUDGET_S = 120.0


@app.task(
    name="mentorq.maintenance.retention",
    queue="maintenance",
    soft_time_limit=RUN_BUDGET_S + 60,
    time_limit=RUN_BUDGET_S + 90,
    ignore_result=True,
)
def purge_expired_jobs() -> dict[str, int | bool]:
    """Delete jobs finished more than the retention period ago, in batches; safe to run anywhere, any time."""
    days = get_settings().job_retention_days
    if days == 0:
        return {"disabled": True}
    deleted, done = retention.purge_expired_jobs(session_scope, days=days, budget_s=RUN_BUDGET_S)
    log.info(
        "retention: deleted %s (finished more than %d days ago)%s",
        deleted, days, "" if done else "; time budget spent, the next run goes on",
    )
    return {**vars(deleted), "done": done}
