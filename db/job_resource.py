"""The job resource as clients see it, built in one place for the API, webhooks and streams."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.models import Job


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
