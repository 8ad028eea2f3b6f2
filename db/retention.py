"""Retention: delete finished jobs past their retention period, with their events and webhook deliveries.

Work goes in batches of at most BATCH_JOBS jobs, one transaction each: a batch locks its jobs
with FOR UPDATE SKIP LOCKED, deletes them and commits, so a run never holds many locks for
long and two runs (beat and `mentorq retention run`) never wait on each other. Children are
deleted explicitly, before their job, so every count is exact (the foreign keys also cascade).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from datetime import timedelta

from sqlalchemy import ColumnElement, and_, bindparam, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from db.models import TERMINAL, Document, Job, JobEvent, WebhookAttempt, WebhookDelivery

BATCH_JOBS = 1000
FINISHED = tuple(sorted(TERMINAL))
# Delivery states with a message still to send: `pending` (first try or a scheduled retry) and `sending`.
UNSENT = ("pending", "sending")


@dataclass
class RetentionCounts:
    """Rows deleted (or, for a dry run, that would be)."""

    jobs: int = 0
    events: int = 0
    deliveries: int = 0
    attempts: int = 0

    def __add__(self, other: RetentionCounts) -> RetentionCounts:
        return RetentionCounts(**{name: getattr(self, name) + getattr(other, name) for name in _FIELDS})

    def __str__(self) -> str:
        def many(count: int, one: str, more: str) -> str:
            return f"{count} {one if count == 1 else more}"

        return ", ".join(
            (
                many(self.jobs, "job", "jobs"),
                many(self.events, "job event", "job events"),
                many(self.deliveries, "webhook delivery", "webhook deliveries"),
                many(self.attempts, "delivery attempt", "delivery attempts"),
            )
        )


_FIELDS = tuple(f.name for f in fields(RetentionCounts))


def _finished_before(days: int) -> ColumnElement[bool]:
    if days < 1:
        raise ValueError("retention needs a period of at least one day (0 means retention is off)")
    # The statuses inline, not as parameters: the planner must see them to use the partial index.
    finished = bindparam("finished", FINISHED, expanding=True, literal_execute=True)
    return and_(Job.status.in_(finished), Job.completed_at < func.now() - timedelta(days=days))


def _reasons_to_keep() -> tuple[ColumnElement[bool], ...]:
    """Why a finished job stays however old it is.

    - A webhook message still to send: a retry may be hours away, or the user just asked for a
      redelivery; the delivery needs its job (owner, kill switch) and the user its attempt log.
    - It is a document's current ingest job. documents.ingest_job_id has no foreign key, so
      deleting the job would not fail, it would quietly change the document: a pending document
      whose ingest failed shows that job's error (api/documents/service.document_read) and would
      show `pending` forever, and the API's link to the job would answer 404. Nulling the column
      instead would also make the document look never ingested (db/documents._decide). One job per
      document is cheap to keep; ingest jobs a re-ingest superseded are referenced by nothing and
      go like any other job.
    """
    unsent = exists().where(WebhookDelivery.job_id == Job.id, WebhookDelivery.status.in_(UNSENT))
    ingest = exists().where(Document.ingest_job_id == Job.id)
    return unsent, ingest


def _expired(days: int) -> ColumnElement[bool]:
    return and_(_finished_before(days), *(~reason for reason in _reasons_to_keep()))


def delete_expired_batch(session: Session, *, days: int, limit: int = BATCH_JOBS) -> RetentionCounts:
    """Delete up to `limit` jobs finished more than `days` ago, oldest first, in the caller's transaction."""
    job_ids = list(
        session.execute(
            select(Job.id)
            .where(_expired(days))
            .order_by(Job.completed_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not job_ids:
        return RetentionCounts()
    # A redelivery (POST /v1/deliveries/{id}/redeliver) can turn a finished delivery back to
    # `pending` after the query above looked. Lock the batch's deliveries, then look again: a
    # redelivery committed before the lock is seen now, a later one waits for this transaction and
    # then finds nothing to requeue. No document can start pointing at these jobs meanwhile: a
    # document only ever takes a newly created ingest job.
    of_batch = WebhookDelivery.job_id.in_(job_ids)
    session.execute(select(WebhookDelivery.id).where(of_batch).with_for_update()).all()
    unsent_now = select(WebhookDelivery.job_id).where(of_batch, WebhookDelivery.status.in_(UNSENT))
    requeued = set(session.execute(unsent_now).scalars())
    job_ids = [job_id for job_id in job_ids if job_id not in requeued]
    if not job_ids:
        return RetentionCounts()

    def rows(statement) -> int:
        return session.execute(statement.execution_options(synchronize_session=False)).rowcount

    deliveries_of_batch = select(WebhookDelivery.id).where(WebhookDelivery.job_id.in_(job_ids))
    return RetentionCounts(
        attempts=rows(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries_of_batch))),
        deliveries=rows(delete(WebhookDelivery).where(WebhookDelivery.job_id.in_(job_ids))),
        events=rows(delete(JobEvent).where(JobEvent.job_id.in_(job_ids))),
        jobs=rows(delete(Job).where(Job.id.in_(job_ids))),
    )


def purge_expired_jobs(
    sessions: Callable[[], AbstractContextManager[Session]],
    *,
    days: int,
    batch: int = BATCH_JOBS,
    budget_s: float | None = None,
) -> tuple[RetentionCounts, bool]:
    """Delete expired jobs batch by batch, one transaction (`sessions()`) each.

    Stops when a batch finds nothing left, or between batches once `budget_s` seconds are spent.
    Returns what it deleted and whether it got to the end.
    """
    deadline = None if budget_s is None else time.monotonic() + budget_s
    total = RetentionCounts()
    while True:
        with sessions() as session:
            deleted = delete_expired_batch(session, days=days, limit=batch)
        total += deleted
        if deleted.jobs == 0:
            return total, True
        if deadline is not None and time.monotonic() >= deadline:
            return total, False


def count_expired(session: Session, *, days: int) -> RetentionCounts:
    """What a purge would delete now (a dry run)."""
    expired = select(Job.id).where(_expired(days))
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.job_id.in_(expired))

    def count(statement) -> int:
        return session.execute(statement).scalar_one()

    return RetentionCounts(
        jobs=count(select(func.count()).select_from(expired.subquery())),
        events=count(select(func.count()).select_from(JobEvent).where(JobEvent.job_id.in_(expired))),
        deliveries=count(select(func.count()).select_from(deliveries.subquery())),
        attempts=count(
            select(func.count()).select_from(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries))
        ),
    )


def count_held(session: Session, *, days: int) -> int:
    """Jobs finished more than `days` ago that retention keeps (see _reasons_to_keep)."""
    return session.execute(
        select(func.count()).select_from(Job).where(_finished_before(days), or_(*_reasons_to_keep()))
    ).scalar_one()
