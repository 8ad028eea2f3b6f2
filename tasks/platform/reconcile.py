"""Beat-driven reconciliation: the relay of the outbox, and what makes sure no job is lost or stuck."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.channels import BROKER_EPOCH_KEY
from core.platform_tasks import RECONCILE
from core.redis_clients import get_redis
from core.settings import get_settings
from db import jobs as job_queries
from db import webhooks as webhook_queries
from db.models import Job
from db.unit_of_work import dispatch_job, outbox, unit_of_work
from tasks.registry import get_kind
from workers.celery_app import platform_task

log = logging.getLogger(__name__)

BATCH = 500
UNDISPATCHED_GRACE_S = 10.0  # the API publishes right after commit; under a burst that can take seconds
RECONCILE_LOCK = 0x6D656E746F72  # any constant: one reconciler at a time across workers


@platform_task(RECONCILE)
def reconcile() -> dict[str, int]:
    """Re-publish unpublished and lost jobs, requeue or fail jobs of dead workers, queue due webhook
    messages. Safe to run anywhere, any time: what it sends goes when its transaction commits."""
    settings = get_settings()
    counts = {"dispatched": 0, "requeued": 0, "failed": 0, "webhooks": 0}
    with unit_of_work() as session:
        if not session.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RECONCILE_LOCK}
        ).scalar():
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
        for job in {job.id: job for job in to_publish}.values():
            dispatch_job(
                session, job_id=job.id, route=get_kind(job.kind).route(job.stage), priority=job.priority
            )
            counts["dispatched"] += 1
        for job in job_queries.stale_running_jobs(
            session, stale_after_s=settings.stale_after_seconds, limit=BATCH
        ):
            counts["requeued" if _recover_stale(session, job) else "failed"] += 1
        # Webhook messages whose (re)try is due, or whose worker died mid-send.
        due = webhook_queries.due_deliveries(session, limit=BATCH)
        outbox(session).deliveries.extend(due)
        counts["webhooks"] = len(due)
    if any(counts.values()):
        log.info("reconciled: %s", counts)
    return counts


def _recover_stale(session: Session, job: Job) -> bool:
    """Requeue a job whose worker vanished (True), or fail it: no attempt left, or past its deadline."""
    deadline_passed = session.execute(
        text("SELECT deadline_at < now() FROM jobs WHERE id = :id"), {"id": job.id}
    ).scalar()
    if deadline_passed:
        job_queries.fail_job(
            session, job_id=job.id, code="timeout", message="the job ran past its hard time limit"
        )
        return False
    route = get_kind(job.kind).route(job.stage)
    if job_queries.requeue_job(
        session, job_id=job.id, reason="worker_lost", from_status="running", route=route
    ):
        return True
    job_queries.fail_job(
        session,
        job_id=job.id,
        code="worker_lost",
        message=f"the worker running this job died on each of {job.attempts} attempts",
    )
    return False


def _broker_lost_its_data() -> bool:
    """True when Redis no longer holds our epoch marker, i.e. it restarted without its data."""
    return bool(get_redis().set(BROKER_EPOCH_KEY, uuid.uuid4().hex, nx=True))
