"""The job resource as clients see it, built in one place for the API, webhooks and streams."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm.attributes import set_committed_value

from db.models import Job
from db.session import async_engine

# What a job's run changes in its resource (id, kind, input, session and created_at never do).
# The statement is built once, so SQLAlchemy computes its cache key once, not per read.
_STATE = (
    Job.status,
    Job.output,
    Job.error,
    Job.progress,
    Job.instructions_version,
    Job.llm_provider,
    Job.llm_model,
    Job.attempts,
    Job.max_attempts,
    Job.started_at,
    Job.completed_at,
)
_STATE_NAMES = frozenset(column.key for column in _STATE)
_STATE_TIMES = frozenset({"started_at", "completed_at"})
_LATEST_STATE = select(*_STATE).where(Job.id == bindparam("job_id"))


def _millis(start: datetime | None, end: datetime | None) -> int | None:
    return int((end - start).total_seconds() * 1000) if start and end else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def job_resource(job: Job) -> dict[str, Any]:
    """The JSON document of a job (what GET /v1/jobs/{id} returns)."""
    base = f"/v1/jobs/{job.id}"
    return {
        "id": str(job.id),
        "kind": job.kind,
        "status": job.status,
        "input": job.input,
        "output": job.output,
        "error": job.error,
        "progress": job.progress,
        "session_id": str(job.session_id) if job.session_id else None,
        "instructions_version": job.instructions_version,
        # Which provider and model answered (the route's primary or a fallback); None before one did.
        "llm": {"provider": job.llm_provider, "model": job.llm_model} if job.llm_provider else None,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "completed_at": _iso(job.completed_at),
        "metrics": {
            "queue_ms": _millis(job.created_at, job.started_at),
            "run_ms": _millis(job.started_at, job.completed_at),
        },
        "urls": {
            "get": base,
            "cancel": f"{base}/cancel",
            "events": f"{base}/events",
            "deliveries": f"{base}/deliveries",
        },
    }


def ending_state(job: Job) -> dict[str, Any]:
    """What `refresh_job_state` would read, as JSON, from the job as its ending transition left it:
    sent with the ending event on the job's end channel (db/unit_of_work.py), so a request waiting
    for the job answers without reading the row again."""
    state = {name: getattr(job, name) for name in _STATE_NAMES}
    for name in _STATE_TIMES:
        state[name] = _iso(state[name])
    return state


def apply_ending_state(job: Job, state: object) -> bool:
    """Load an `ending_state` into `job` as the row's committed values; False (and `job` untouched)
    when `state` is not one, e.g. from a worker of an older release: then read the row instead."""
    if not isinstance(state, dict) or set(state) != _STATE_NAMES:
        return False
    try:
        times = {name: datetime.fromisoformat(state[name]) if state[name] else None for name in _STATE_TIMES}
    except (TypeError, ValueError):
        return False
    for name in _STATE_NAMES:
        set_committed_value(job, name, times[name] if name in _STATE_TIMES else state[name])
    return True


async def refresh_job_state(job: Job) -> None:
    """Load the latest committed state of what a run changes into `job`, in one autocommit round
    trip (no BEGIN and COMMIT, no ORM refresh) on a pooled connection of its own: what a request
    waiting on the job reads when its live events say it ended. The values are loaded as the
    row's (no change to flush); a job deleted meanwhile keeps its last state."""
    async with async_engine().connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        row = (await connection.execute(_LATEST_STATE, {"job_id": job.id})).mappings().first()
    if row is not None:
        for key, value in row.items():
            set_committed_value(job, key, value)
