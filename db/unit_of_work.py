"""One way to commit: the transaction first, then what it promised to the outside world.

Job transitions, `create_job` and redeliveries record, beside their rows, what must happen
once the rows are committed: job events to publish live on Redis, webhook messages to queue,
account mails to send, job messages to send to the broker. These wait in the session's outbox.
`commit` (or the end of a `unit_of_work()` block) commits, then sends them in that order:
events, deliveries, mails, jobs. A rollback discards them.

Sending is best effort by design, because the rows are the record: a live event a subscriber
missed is in the timeline, and a job or delivery the broker did not take stays unstamped
(`dispatched_at` NULL) for the reconciler to send. Sent jobs and deliveries are stamped.

A plain `session.commit()` while the outbox holds something is refused (`before_commit`
raises), so no caller can commit and forget to publish. This is the only module that sends
jobs or deliveries to the broker (an import-linter contract keeps it so).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core import broker
from core.channels import job_channel, job_end_channel
from core.job_status import TERMINAL
from core.jobspec import Route
from core.metrics import jobs as job_metrics
from core.redis_clients import get_async_broker_redis, get_broker_redis
from core.settings import get_settings
from core.task_messages import TaskMessage
from db import admission
from db.direct_statement import (
    AsyncDirectStatement,
    AsyncDirectTransaction,
    DirectStatement,
    DirectTransaction,
)
from db.dispatch_stamps import dispatch_stamps, stamp_now
from db.job_resource import ending_state
from db.models import Job, JobEvent
from db.session import (
    async_engine,
    async_session_factory,
    sync_engine,
    sync_session_factory,
)

log = logging.getLogger(__name__)

OUTBOX_KEY = "mentorq_outbox"
# What a transition writes through: a session, or one statement straight on the driver.
Writer = (
    Session
    | AsyncSession
    | DirectStatement
    | AsyncDirectStatement
    | DirectTransaction
    | AsyncDirectTransaction
)


@dataclass(frozen=True)
class Dispatch:
    """A job message to send once committed: the job's current stage's route. A job entering a lane
    admitted per user names its owner: it may be held instead (db/admission.py)."""

    job_id: uuid.UUID
    route: Route
    priority: int
    countdown: float | None = None
    admit_owner: uuid.UUID | None = None


@dataclass
class Outbox:
    """What a transaction will send once it has committed."""

    events: list[tuple[JobEvent, Job]] = field(default_factory=list)
    # Counted, not sent (core/metrics/jobs.py): events nobody can be listening to (a new job's
    # `queued`, a cached answer's `succeeded`) and the kinds of the jobs created.
    quiet_events: list[tuple[JobEvent, Job]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    deliveries: list[uuid.UUID] = field(default_factory=list)
    # Account mails (db/account_mail.py) with their countdown: a retry waits on the broker. Not
    # stamped: the reconciler sends again a mail overdue by a minute, and the claim dedupes.
    mails: list[tuple[uuid.UUID, float | None]] = field(default_factory=list)
    dispatches: list[Dispatch] = field(default_factory=list)

    def __bool__(self) -> bool:
        """Whether it holds something to send (what is only counted does not make a plain commit unsafe)."""
        return bool(self.events or self.deliveries or self.mails or self.dispatches)

    def count(self) -> None:
        """Count what the transaction committed (core/metrics/jobs.py); never fails the commit's sends."""
        try:
            job_metrics.count_committed([*self.events, *self.quiet_events], self.created)
        except Exception:  # noqa: BLE001 - a metric is not worth a lost event or job message
            log.warning("could not count a committed transaction's jobs", exc_info=True)


class UnpublishedCommit(RuntimeError):
    """A commit that would leave its outbox unsent: commit through this module instead."""


def outbox(session: Writer) -> Outbox:
    """The session's outbox (created on first use); transitions add to it."""
    return session.info.setdefault(OUTBOX_KEY, Outbox())


def dispatch_job(
    session: Writer,
    *,
    job_id: uuid.UUID,
    route: Route,
    priority: int,
    countdown: float | None = None,
    admit_owner: uuid.UUID | None = None,
) -> None:
    """Send this job's message (its current stage) once the transaction has committed; with
    `admit_owner`, only if that user has room in the lane (else the job is held)."""
    outbox(session).dispatches.append(Dispatch(job_id, route, priority, countdown, admit_owner))


def _take(session: Writer) -> Outbox:
    return session.info.pop(OUTBOX_KEY, None) or Outbox()


@event.listens_for(Session, "before_commit")
def _refuse_commit_with_unsent_outbox(session: Session) -> None:
    if session.info.get(OUTBOX_KEY):
        raise UnpublishedCommit(
            "this transaction has job events, webhook messages, account mails or job messages to send: "
            "commit it with db.unit_of_work.commit / commit_async / unit_of_work()"
        )


@event.listens_for(Session, "after_rollback")
def _discard_outbox(session: Session) -> None:
    session.info.pop(OUTBOX_KEY, None)


# --- sync: workers, beat, the command line ------------------------------------------------------


def commit(session: Session) -> None:
    """Commit, then send what the transaction recorded (events, deliveries, jobs)."""
    box = _take(session)
    try:
        box.dispatches = admission.admit_sync(session, box.dispatches)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    _send(box)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """A transaction that commits on success (then sends its outbox) and rolls back on error."""
    with _committed(sync_session_factory()()) as session:
        yield session


@contextmanager
def one_statement() -> Iterator[DirectStatement]:
    """`unit_of_work` for ONE prebuilt statement that is atomic by itself (a worker's claim, a quiet
    finish: a transition and its event): it runs in autocommit, without BEGIN and COMMIT round
    trips, straight on the pool's connection (db/direct_statement.py), and its outbox (live events
    only) is sent after it as usual. Anything that writes twice, or writes a webhook delivery or a
    job message, must use `unit_of_work`."""
    statement = DirectStatement(sync_engine())
    yield statement
    box = _take(statement)
    if box.deliveries or box.mails or box.dispatches:
        raise UnpublishedCommit("one statement cannot send deliveries, mails or jobs: use unit_of_work()")
    _send(box)


@contextmanager
def one_transaction() -> Iterator[DirectTransaction]:
    """`one_statement` for a few prebuilt statements that are one transaction together, sent in one
    round trip (db/direct_statement.py): a worker's finish that hands its owner's slot on, and the
    release of the owner's next held jobs (db/jobs.py finish_and_release). Its outbox (live events,
    the released jobs' messages) is sent after it, as a commit's is; a webhook delivery or a mail is
    a row a session writes, so neither can come from here."""
    transaction = DirectTransaction(sync_engine())
    yield transaction
    _send(_direct_outbox(transaction))


def _direct_outbox(transaction: DirectTransaction | AsyncDirectTransaction) -> Outbox:
    """What a direct transaction recorded, once it ran: live events and job messages only, the jobs
    admitted already by its statements."""
    box = _take(transaction)
    if box.deliveries or box.mails or any(d.admit_owner is not None for d in box.dispatches):
        raise UnpublishedCommit(
            "these statements send no deliveries or mails, nor admit a job: use a session"
        )
    return box


@contextmanager
def _committed(session: Session) -> Iterator[Session]:
    try:
        yield session
        commit(session)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _send(box: Outbox) -> None:
    box.count()
    if box.events:
        try:
            pipe = get_broker_redis().pipeline(transaction=False)
            for channel, message in _live_messages(box):
                pipe.publish(channel, message)
            pipe.execute()
        except Exception:  # noqa: BLE001 - live events are a convenience; the rows are the record
            log.warning("could not publish live events", exc_info=True)
    deliveries, jobs = _send_to_broker(box)
    if deliveries or jobs:
        try:
            stamp_now(jobs, deliveries)
        except Exception:  # noqa: BLE001 - unstamped means the reconciler sends it again; the claim dedupes
            log.warning("could not stamp %d jobs and %d deliveries as sent", len(jobs), len(deliveries))


def _broker_messages(box: Outbox) -> list[TaskMessage]:
    """Deliveries, mails, then jobs: the task messages the transaction promised."""
    return [
        *(broker.delivery_message(delivery_id=delivery_id) for delivery_id in box.deliveries),
        *(
            broker.account_mail_message(mail_id=mail_id, countdown=countdown)
            for mail_id, countdown in box.mails
        ),
        *(
            broker.job_message(
                job_id=dispatch.job_id,
                route=dispatch.route,
                priority=dispatch.priority,
                countdown=dispatch.countdown,
            )
            for dispatch in box.dispatches
        ),
    ]


def _sent(box: Outbox) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    return list(box.deliveries), [dispatch.job_id for dispatch in box.dispatches]


def _send_to_broker(box: Outbox) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Every message in one round trip. If that fails none is stamped, and the reconciler sends them
    later: a message that did reach the broker before the failure then comes twice, and the claim
    refuses the second."""
    messages = _broker_messages(box)
    if not messages:
        return [], []
    try:
        broker.send(messages)
    except Exception as error:  # noqa: BLE001 - the rows stay unstamped; the reconciler sends them
        log.warning("broker unavailable (%r); %d messages left to the reconciler", error, len(messages))
        return [], []
    return _sent(box)


# --- async: the API ------------------------------------------------------------------------------


async def commit_async(session: AsyncSession) -> None:
    """The API's commit: commit, then send what the transaction recorded (events, deliveries, jobs)."""
    box = _take(session)
    box.dispatches = await admission.admit(session, box.dispatches)
    await session.commit()
    await _send_async(box)


@asynccontextmanager
async def async_unit_of_work() -> AsyncIterator[AsyncSession]:
    """An API-side transaction of its own (outside a request's session): commit_async on success."""
    async with async_session_factory()() as session:
        yield session
        await commit_async(session)


@asynccontextmanager
async def async_one_statement() -> AsyncIterator[AsyncDirectStatement]:
    """`one_statement` for the API: ONE prebuilt statement atomic by itself (a submit that locks
    nothing), in autocommit and straight on the pool's connection; its outbox is sent after it as
    `commit_async` sends one. Anything that writes twice, or locks, or enters a lane that may hold
    the job (db/admission.py), must use a transaction."""
    statement = AsyncDirectStatement(async_engine())
    yield statement
    box = _take(statement)
    if box.deliveries or box.mails or any(admission.may_hold(d.route.queue) for d in box.dispatches):
        raise UnpublishedCommit(
            "one statement cannot send deliveries or mails, or admit a job: use a transaction"
        )
    await _send_async(box)


@asynccontextmanager
async def async_one_transaction() -> AsyncIterator[AsyncDirectTransaction]:
    """`async_one_statement` for a few prebuilt statements that are one transaction together, sent
    in one round trip (db/direct_statement.py): the API's submit into a lane admitted per user, and
    any submit with an Idempotency-Key, whose statements decide the job's admission themselves
    (db/jobs.py). Its outbox is sent after it; a job message there must not ask to be admitted
    again."""
    transaction = AsyncDirectTransaction(async_engine())
    yield transaction
    await _send_async(_direct_outbox(transaction))


async def _send_async(box: Outbox) -> None:
    box.count()
    if box.events:
        try:
            async with get_async_broker_redis().pipeline(transaction=False) as pipe:
                for channel, message in _live_messages(box):
                    pipe.publish(channel, message)
                await pipe.execute()
        except Exception:  # noqa: BLE001
            log.warning("could not publish live events", exc_info=True)
    if not (box.deliveries or box.mails or box.dispatches):
        return
    # On the event loop, bounded so that a hung broker cannot hold the request.
    deliveries: list[uuid.UUID] = []
    jobs: list[uuid.UUID] = []
    messages = _broker_messages(box)
    try:
        with anyio.fail_after(get_settings().broker_publish_timeout_seconds + 1):
            await broker.send_async(messages)
        deliveries, jobs = _sent(box)
    except TimeoutError:
        log.warning("broker too slow; %d messages left to the reconciler", len(messages))
    except Exception as error:  # noqa: BLE001 - the rows stay unstamped; the reconciler sends them
        log.warning("broker unavailable (%r); %d messages left to the reconciler", error, len(messages))
    # Stamped in batches a few milliseconds later, off the request path.
    dispatch_stamps.add(job_ids=jobs, delivery_ids=deliveries)


def _live_messages(box: Outbox) -> Iterator[tuple[str, str]]:
    """Every event on its job's channel; an ending event on the job's end channel as well, with the
    job's state as it ended, which a request waiting for the job answers with."""
    for job_event, job in box.events:
        message = event_message(job_event, job)
        yield job_channel(job.id), json.dumps(message)
        if job_event.type in TERMINAL:
            yield job_end_channel(job.id), json.dumps({**message, "state": ending_state(job)})


def event_message(job_event: JobEvent, job: Job) -> dict:
    """The JSON a job event is published as on the job's live channel."""
    return {
        "id": job_event.id,
        "job_id": str(job.id),
        "type": job_event.type,
        "status": job.status,
        "data": job_event.data,
        "at": (job_event.created_at or datetime.now(UTC)).isoformat(),
    }
