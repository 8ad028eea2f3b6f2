"""Jobs counted from what a transaction committed: its job events, and the jobs it created.

db/unit_of_work.py calls `count_committed` after the commit and before it sends anything, so a
rolled-back transition is never counted and a counted one happened. Every transition that moves a
job records an event through that outbox (db/jobs.py), so this one place sees every creation, start,
retry and end, in whichever process made it: the API, a worker, the reconciler.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from core.job_status import TERMINAL
from core.metrics import catalog


class _Job(Protocol):
    kind: str
    status: str
    stage: str | None
    attempts: int
    error: Any
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None


class _Event(Protocol):
    type: str


def count_committed(events: Iterable[tuple[_Event, _Job]], created: Iterable[str]) -> None:
    """Count the kinds created and each event's job as the transaction left it."""
    for kind in created:
        catalog.JOBS_CREATED.labels(catalog.bounded(kind)).inc()
    for event, job in events:
        kind = catalog.bounded(job.kind)
        if event.type == "started":
            # The first stage's first start: a later stage or attempt waited behind this job's own work.
            if job.stage is None and job.attempts == 1:
                _observe(catalog.JOB_QUEUE_WAIT.labels(kind), job.created_at, job.started_at)
        elif event.type == "retried":
            catalog.JOB_RETRIES.labels(kind).inc()
        elif event.type in TERMINAL and job.status == event.type:
            code = (job.error or {}).get("code") if event.type == "failed" else None
            catalog.JOBS_ENDED.labels(kind, event.type, catalog.bounded(code)).inc()
            _observe(catalog.JOB_RUN.labels(kind, event.type), job.started_at, job.completed_at)


def _observe(histogram: Any, since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None:
        histogram.observe(max(0.0, (until - since).total_seconds()))
