"""Beat-driven maintenance: the reconciler that makes sure no job is lost or stuck."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import text

from db import jobs as job_queries
from db import webhooks as webhook_queries
from db.models import Job
from db.session import session_scope
from core.channels import BROKER_EPOCH_KEY
from core.broker import publish_job
from core.settings import get_settings
from workers.celery_app import app
from core.redis_clients import get_redis
from workers.runtime import publish_committed_events, send_deliveries

log = logging.getLogger(__name__)

BATCH = 500
UNDISPATCHED_GRACE_S = 10.0  # the API publishes right after commit; under a burst that can take seconds
RECONCILE_LOCK = 0x6D656E746F72  # any constant: one reconciler at a time across workers


@app.task(name="mentorq.maintenance.reconcile", queue="maintenance", soft_time_limit=60, time_limit=90, ignore_result=True)
def reconcile() -> dict[str, int]:
    """Re-publish unpublished and lost jobs, requeue or fail jobs of dead workers. Safe to run anywhere, any time."""
    settings = get_settings()
    counts = {"dispatched": 0, "requeued": 0, "failed": 0}
    with session_scope() as session:
        if not session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RECONCILE_LOCK}).scalar():
            return counts  # another reconciler is at it
        to_publish: list[Job] = []
        if _broker_lost_its_data():
            # Redis came back empty: every queued message is gone; duplicates are harmless (claim).
            to_publish += job_queries.queued_dispatched_jobs(session, limit=BATCH)
        to_publish += job_queries.jobs_to_dispatch(
            session,
            undispatched_for_s=UNDISPATCHED_GRACE_S,
            redispatch_after_s=settings.redispatch_after_seconds,
            limit=BATCH,
        )
        for job in job_queries.stale_running_jobs(session, stale_after_s=settings.stale_after_seconds, limit=BATCH):
            requeued = _recover_stale(session, job)
            if requeued is not None:
                to_publish.append(requeued)
                counts["requeued"] += 1
            else:
                counts["failed"] += 1
    publish_committed_events(session)

    for job in {job.id: job for job in to_publish}.values():
        try:
            publish_job(app, job_id=job.id, kind=job.kind, stage=job.stage, priority=job.priority)
        except Exception:  # noqa: BLE001 - the broker is down again; the next run retries
            log.warning("could not publish job %s", job.id, exc_info=True)
            break
        with session_scope() as session:
            job_queries.mark_dispatched(session, job_id=job.id)
        counts["dispatched"] += 1
    counts["webhooks"] = _send_due_webhooks()
    if any(counts.values()):
        log.info("reconciled: %s", counts)
    return counts


def _send_due_webhooks() -> int:
    """Queue webhook deliveries whose (re)try is due, or whose worker died mid-send."""
    with session_scope() as session:
        due = webhook_queries.due_deliveries(session, limit=BATCH)
    if due:
        send_deliveries(due)
    return len(due)


def _recover_stale(session, job: Job) -> Job | None:
    """Requeue a job whose worker vanished, or fail it when it has no attempt left or ran past its deadline."""
    deadline_passed = session.execute(
        text("SELECT deadline_at < now() FROM jobs WHERE id = :id"), {"id": job.id}
    ).scalar()
    if deadline_passed:
        job_queries.fail_job(session, job_id=job.id, code="timeout", message="the job ran past its hard time limit")
        return None
    requeued = job_queries.requeue_job(session, job_id=job.id, reason="worker_lost", from_status="running")
    if requeued is None:
        job_queries.fail_job(
            session,
            job_id=job.id,
            code="worker_lost",
            message=f"the worker running this job died on each of {job.attempts} attempts",
        )
    return requeued


def _broker_lost_its_data() -> bool:
    """True when Redis no longer holds our epoch marker, i.e. it restarted without its data."""
    return bool(get_redis().set(BROKER_EPOCH_KEY, uuid.uuid4().hex, nx=True))
