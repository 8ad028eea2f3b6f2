"""`dispatched_at` stamps: a job or delivery message reached the broker.

The outbox needs to know a message was sent: the reconciler re-sends queued jobs still
unstamped after its grace period, and due deliveries not stamped recently. Workers stamp right
after they publish (`stamp_now`). The API stamps the jobs it publishes in batches, off the
request path: stamping each job in its own UPDATE and COMMIT cost every submit a transaction;
under a burst one statement now stamps every job published in the last STAMP_DELAY_S, in
autocommit (one round trip, no BEGIN and COMMIT) with a statement built once. Losing a batch
(the process dies, PostgreSQL blips) costs a duplicate message after the grace period, which
the worker's claim makes harmless.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from sqlalchemy import and_, bindparam, func, or_, update

from db.models import Job, JobStatus, WebhookDelivery
from db.session import async_engine, sync_autocommit_engine

log = logging.getLogger(__name__)

STAMP_DELAY_S = 0.05  # a burst's publishes gather this long into one UPDATE


# What a worker (or any synchronous sender) stamps right after it publishes: every job it sent
# (a retry, a next stage, a held job released), whatever its stamp was. Built once (SQLAlchemy
# computes a statement's cache key once) and run in autocommit: one round trip, where a session's
# BEGIN, UPDATE and COMMIT were three and the statement was built and keyed again each time (11 %
# of the llm worker's CPU under one user's burst, benchmarks.profile_job_path).
_STAMP_SENT_JOBS = (
    update(Job).where(Job.id.in_(bindparam("job_ids", expanding=True))).values(dispatched_at=func.now())
)


def stamp_now(job_ids: list[uuid.UUID], delivery_ids: list[uuid.UUID]) -> None:
    """Stamp messages this process has just sent, each UPDATE atomic by itself (autocommit)."""
    if not (job_ids or delivery_ids):
        return
    with sync_autocommit_engine().connect() as connection:
        if job_ids:
            connection.execute(_STAMP_SENT_JOBS, {"job_ids": job_ids})
        if delivery_ids:
            connection.execute(_STAMP_SENT_DELIVERIES, {"delivery_ids": delivery_ids})


# Not a delivery whose attempt already ran: a recorded retry is due later (or it ended), and a late
# stamp would hide the retry from the reconciler.
_STAMP_SENT_DELIVERIES = (
    update(WebhookDelivery)
    .where(
        WebhookDelivery.id.in_(bindparam("delivery_ids", expanding=True)),
        WebhookDelivery.status == "pending",
        WebhookDelivery.next_attempt_at <= func.now(),
    )
    .values(dispatched_at=func.now())
)


# Stamps newly submitted jobs as published (the stamp can land after a worker took the job).
# Not a job back in the queue for a retry or its next stage: that one is the worker's to
# publish and stamp, and a stale stamp here would hide it from the reconciler. Built once, so
# SQLAlchemy computes its cache key once, not per batch.
_STAMP_NEW_JOBS = (
    update(Job)
    .where(
        Job.id.in_(bindparam("job_ids", expanding=True)),
        Job.dispatched_at.is_(None),
        ~and_(Job.status == JobStatus.queued.value, or_(Job.attempts > 0, Job.stage.is_not(None))),
    )
    .values(dispatched_at=func.now())
)


class DispatchStamps:
    """The API process's batched stamps (one per process; it lives on the event loop)."""

    def __init__(self) -> None:
        self._job_ids: list[uuid.UUID] = []
        self._delivery_ids: list[uuid.UUID] = []
        self._writer: asyncio.Task[None] | None = None

    def add(self, *, job_ids: list[uuid.UUID], delivery_ids: list[uuid.UUID]) -> None:
        """Note that these messages are on the broker; they are stamped within a few milliseconds."""
        if not (job_ids or delivery_ids):
            return
        self._job_ids += job_ids
        self._delivery_ids += delivery_ids
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_soon(), name="dispatch-stamps")

    async def _write_soon(self) -> None:
        await asyncio.sleep(STAMP_DELAY_S)
        while self._job_ids or self._delivery_ids:
            job_ids, self._job_ids = self._job_ids, []
            delivery_ids, self._delivery_ids = self._delivery_ids, []
            try:
                async with async_engine().connect() as connection:
                    await connection.execution_options(isolation_level="AUTOCOMMIT")
                    if job_ids:
                        await connection.execute(_STAMP_NEW_JOBS, {"job_ids": job_ids})
                    if delivery_ids:
                        await connection.execute(_STAMP_SENT_DELIVERIES, {"delivery_ids": delivery_ids})
            except Exception:  # noqa: BLE001 - the reconciler re-sends them; the claim dedupes
                log.warning(
                    "could not stamp %d published jobs; the reconciler will re-publish them", len(job_ids)
                )

    async def drain(self) -> None:
        """Write what is pending (at shutdown)."""
        if self._writer is not None:
            await self._writer


dispatch_stamps = DispatchStamps()
