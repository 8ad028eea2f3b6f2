"""Beat-driven reconciliation: the relay of the outbox, and what makes sure no job is lost or stuck."""

from __future__ import annotations

import logging
import uuid

from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.orm import Session

from core import queued_messages, unacked
from core.channels import BROKER_EPOCH_KEY
from core.metrics import catalog
from core.platform_tasks import RECONCILE
from core.redis_clients import get_broker_redis
from core.settings import get_settings
from db import account_mail, admission, exercises
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
# A job published this soon after Redis started may have gone to the Redis before it: its stamp
# lands a few milliseconds after the publish, and the uptime is in whole seconds.
BROKER_START_MARGIN_S = 2.0


@platform_task(RECONCILE)
def reconcile() -> dict[str, int]:
    """Re-publish unpublished and lost jobs, requeue or fail jobs of dead workers, queue due webhook
    messages and lost account mails. Safe to run anywhere, any time: what it sends goes when its
    transaction commits."""
    settings = get_settings()
    counts = {
        "dispatched": 0,
        "stranded": 0,
        "vanished": 0,
        "requeued": 0,
        "failed": 0,
        "released": 0,
        "webhooks": 0,
        "mails": 0,
        "submissions": 0,
    }
    with unit_of_work() as session:
        if not session.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RECONCILE_LOCK}
        ).scalar():
            return counts  # another reconciler is at it
        to_publish: list[Job | job_queries.QueuedJob] = []
        lost = _jobs_the_broker_lost(session)
        if lost is not None:
            to_publish += lost
        stranded, stranded_deliveries = _jobs_a_lost_worker_held(
            session, after_s=settings.stale_after_seconds
        )
        to_publish += stranded
        counts["stranded"] = len(stranded)
        vanished = _jobs_whose_message_vanished(session, after_s=settings.stale_after_seconds)
        to_publish += vanished
        counts["vanished"] = len(vanished)
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
            recovered = _recover_stale(session, job, stale_after_s=settings.stale_after_seconds)
            counts["requeued" if recovered else "failed"] += 1
        # Held LLM jobs of users with room again (a crash, a cancel or a changed cap freed a slot
        # without the transaction that usually sends the next one).
        for owner_id in admission.owners_with_held_jobs(session, limit=BATCH):
            counts["released"] += admission.release_held(session, owner_id=owner_id, route_of=_route_of)
        # Webhook messages whose (re)try is due, or whose worker died mid-send.
        due = webhook_queries.due_deliveries(session, limit=BATCH)
        outbox(session).deliveries.extend(due)
        counts["webhooks"] = len(due)
        # Account mails whose broker message was lost, or whose worker died mid-send.
        lost_mails = account_mail.lost_mails(session, limit=BATCH)
        outbox(session).mails.extend((mail_id, None) for mail_id in lost_mails)
        counts["mails"] = len(lost_mails)
        # Submissions whose grade job ended without a grade (failed, canceled, gone): never left
        # `grading` for good.
        counts["submissions"] = exercises.fail_ungraded(session, limit=BATCH)
    # Only now, with the jobs sent again: a pass that failed leaves the deliveries to the next.
    unacked.forget(get_broker_redis(), stranded_deliveries)
    if lost is not None and len(lost) < BATCH:
        # Only now, with every lost job sent again: a pass that failed or stopped at BATCH leaves
        # the marker unset, so the next run takes up the rest.
        get_broker_redis().set(BROKER_EPOCH_KEY, uuid.uuid4().hex, nx=True)
    for action, count in counts.items():
        if count:
            catalog.RECONCILER_ACTIONS.labels(action).inc(count)
    if any(counts.values()):
        log.info("reconciled: %s", counts)
    return counts


def _route_of(kind: str, stage: str | None):
    return get_kind(kind).route(stage)


def _recover_stale(session: Session, job: Job, *, stale_after_s: float) -> bool:
    """Requeue a job whose worker vanished (True), or fail it: no attempt left, or it ran past its
    deadline. A job whose heartbeat stopped well before its deadline was lost, not slow: it is
    requeued even when this pass comes after the deadline (the maintenance workers were down, or
    slow to start again), instead of failing `timeout` for the reconciler's own lateness."""
    ran_past_deadline = session.execute(
        text(
            "SELECT deadline_at < now() AND heartbeat_at >= deadline_at - make_interval(secs => :stale)"
            " FROM jobs WHERE id = :id"
        ),
        {"id": job.id, "stale": stale_after_s},
    ).scalar()
    if ran_past_deadline:
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


def _jobs_a_lost_worker_held(session: Session, *, after_s: float) -> tuple[list[Job], list[unacked.Delivery]]:
    """Queued jobs whose message a worker took more than `after_s` ago and never claimed (core/unacked.py):
    its host was lost between the delivery and the claim. The heartbeat's staleness bound serves,
    as it does for the running jobs of a lost worker. Their deliveries, to forget once sent again:
    those of jobs claimed or ended since are left to their workers' acks."""
    by_job = unacked.job_ids(unacked.stranded_deliveries(get_broker_redis(), older_than_s=after_s))
    if not by_job:
        return [], []
    jobs = job_queries.queued_unheld_jobs(session, job_ids=list(by_job))
    return jobs, [by_job[job.id] for job in jobs]


def _jobs_whose_message_vanished(session: Session, *, after_s: float) -> list[job_queries.QueuedJob]:
    """Queued jobs published more than `after_s` ago whose message is neither in their lane's lists
    nor with a worker (core/queued_messages.py): Redis or a worker lost it while Redis kept running.
    Read without their input: under a backlog this looks at up to BATCH jobs on every pass."""
    published = job_queries.queued_unheld_published_before(session, seconds_ago=after_s, limit=BATCH)
    if not published:
        return []
    broker = get_broker_redis()
    taken = queued_messages.taken_task_ids(broker)
    waiting: dict[str, list[uuid.UUID]] = {}
    for job in published:
        if str(job.id) not in taken:
            waiting.setdefault(_route_of(job.kind, job.stage).queue, []).append(job.id)
    lost = set(queued_messages.missing(broker, waiting))
    return [job for job in published if job.id in lost]


def _jobs_the_broker_lost(session: Session) -> list[Job] | None:
    """None while Redis holds our epoch marker (it kept its data). Without it, Redis restarted
    empty (or is new): the queued jobs whose message went to an earlier Redis, to send again.

    Only those published before this Redis started (by its uptime, on PostgreSQL's clock, with
    BROKER_START_MARGIN_S to spare) were lost. Jobs published since are in it still: sending
    every queued job again, as this once did, put a duplicate of each on a fresh stack's first
    run (99 in one benchmark run), each costing a message, a worker's claim and a round trip.
    A FLUSHALL on a Redis that keeps running is no restart: messages it dropped are sent again
    by the redispatch pass (MENTORQ_REDISPATCH_AFTER_SECONDS). If the uptime cannot be read,
    every queued job goes again (duplicates are harmless: the claim)."""
    redis = get_broker_redis()
    if redis.exists(BROKER_EPOCH_KEY):
        return None
    since_start: float | None = None
    try:
        since_start = max(0.0, float(redis.info("server")["uptime_in_seconds"]) - BROKER_START_MARGIN_S)
    except (RedisError, KeyError, TypeError, ValueError):
        log.warning("cannot read Redis's uptime; sending every queued job again", exc_info=True)
    return job_queries.queued_jobs_dispatched_before(session, seconds_ago=since_start, limit=BATCH)
