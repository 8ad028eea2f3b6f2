"""Per-user admission to the LLM lane: one user's backlog waits in PostgreSQL, not in the queue.

Redis serves a queue in order, so 500 jobs one user sends in a burst would sit ahead of another
user's single job for 500 job times. Instead a user has at most MENTORQ_LLM_USER_SLOTS jobs sent
to an admitted lane (core/lanes.ADMITTED) at once; the others are *held*: committed and queued,
with no message on the broker. When one of the user's jobs in the lane ends, the transaction that
ends it sends the user's next held jobs (highest priority, then oldest). Another user's job then
waits behind at most the jobs already sent: about one job time per slot.

Both sides take a per-user advisory lock before they count, so a job held by a submit and a slot
freed by a worker at the same moment cannot miss each other: whichever commits second sees the
other. The reconciler also releases held jobs of users with room (after a crash, a cancel, a
changed setting), so a held job never waits for ever.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Integer,
    Select,
    String,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    event,
    false,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core import lanes
from core.jobspec import Route
from core.settings import get_settings
from db import unit_of_work  # a cycle: the unit of work asks this module before it commits
from db.models import ACTIVE, Job, JobStatus

HELD_PROGRESS = {
    "stage": "waiting",
    "fraction": None,
    "message": "waiting for one of your other jobs on the model to finish",
}
RouteOf = Callable[[str, str | None], Route]

# Set in a transaction's session by a statement that already took its owner's admission lock (a
# finish in a capped lane, db/jobs.py finish_job): release_held then does not send the lock again.
OWNER_LOCKED = "mentorq.admission.owner_locked"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _the_lock_ends_with_its_transaction(session: Session) -> None:
    # The advisory lock is the transaction's: a session that goes on must lock again.
    session.info.pop(OWNER_LOCKED, None)


def owner_lock(owner: Any) -> Any:
    """The owner's admission lock (a transaction-scoped advisory lock) as an SQL expression:
    `owner` a uuid column or a text parameter, keyed alike either way."""
    return func.pg_advisory_xact_lock(func.hashtextextended(cast(owner, Text), 7))


_LOCK = select(owner_lock(bindparam("owner", type_=Text)))


def _in_lane(owner_id: uuid.UUID, leaving_out: Sequence[uuid.UUID] = ()):
    """The user's jobs sent to an admitted lane and not yet ended (not held, still queued or running)."""
    query = (
        select(func.count())
        .select_from(Job)
        .where(
            Job.owner_id == owner_id,
            Job.status.in_(ACTIVE),
            Job.queue.in_(sorted(lanes.ADMITTED)),
            Job.held.is_(false()),
        )
    )
    if leaving_out:
        query = query.where(Job.id.not_in(list(leaving_out)))
    return query


def _to_admit(dispatches: Sequence[unit_of_work.Dispatch]) -> dict[uuid.UUID, list[unit_of_work.Dispatch]]:
    """The dispatches that enter an admitted lane for a user, by user (in a fixed order: no deadlock)."""
    owners: dict[uuid.UUID, list[unit_of_work.Dispatch]] = {}
    for dispatch in dispatches:
        if dispatch.admit_owner is not None:
            owners.setdefault(dispatch.admit_owner, []).append(dispatch)
    return dict(sorted(owners.items()))


def _over_the_cap(entering: list[unit_of_work.Dispatch], in_lane: int, cap: int) -> list[uuid.UUID]:
    free = max(0, cap - in_lane)
    return [dispatch.job_id for dispatch in entering[free:]]


def _hold(job_ids: list[uuid.UUID]):
    return update(Job).where(Job.id.in_(job_ids)).values(held=True, progress=HELD_PROGRESS)


@functools.cache
def held_past_the_cap() -> Any:
    """The API's new job (`p_id`) held when its owner's other jobs in the lane already fill
    `p_slots`: the count and the hold in one statement, RETURNING the job only if it was held.

    It must come after the statement that took the owner's lock (the submit's,
    db/jobs.py), in the same transaction: a statement's snapshot is taken as it starts, so one that
    locked and counted at once could count a job whose finish committed while it waited for the
    lock, and hold its job with no finish left to send it. Built once; its lists are written in
    (a parameter each), since it runs straight on the driver (db/direct_statement.py)."""
    jobs = Job.__table__
    others_in_lane = (
        select(func.count())
        .select_from(jobs)
        .where(
            jobs.c.owner_id == bindparam("p_owner", type_=jobs.c.owner_id.type),
            jobs.c.status.in_([literal(status) for status in ACTIVE]),
            jobs.c.queue.in_([literal(queue) for queue in sorted(lanes.ADMITTED)]),
            jobs.c.held.is_(false()),
            jobs.c.id != bindparam("p_id", type_=jobs.c.id.type),
        )
        .scalar_subquery()
    )
    return (
        update(jobs)
        .where(jobs.c.id == bindparam("p_id", type_=jobs.c.id.type))
        .where(others_in_lane >= bindparam("p_slots", type_=Integer))
        .values(held=True, progress=HELD_PROGRESS)
        .returning(jobs.c.id)
    )


def may_hold(queue: str) -> bool:
    """Whether a job entering `queue` may be held for its owner's cap: its submit's commit then
    counts the owner's jobs in the lane under a lock (`admit`), and its end sends the next one."""
    return queue in lanes.ADMITTED and get_settings().llm_slots_per_user > 0


def admit_sync(session: Session, dispatches: list[unit_of_work.Dispatch]) -> list[unit_of_work.Dispatch]:
    """Before a commit: hold the jobs past their owner's cap (they are not sent); the rest go."""
    cap = get_settings().llm_slots_per_user
    owners = _to_admit(dispatches)
    if not owners or cap == 0:
        return dispatches
    session.flush()
    held: list[uuid.UUID] = []
    for owner_id, entering in owners.items():
        session.execute(_LOCK, {"owner": str(owner_id)})
        in_lane = session.execute(_in_lane(owner_id, [d.job_id for d in entering])).scalar_one()
        held += _over_the_cap(entering, in_lane, cap)
    if held:
        session.execute(_hold(held))
    return [dispatch for dispatch in dispatches if dispatch.job_id not in set(held)]


async def admit(
    session: AsyncSession, dispatches: list[unit_of_work.Dispatch]
) -> list[unit_of_work.Dispatch]:
    """`admit_sync` in the API's async session."""
    cap = get_settings().llm_slots_per_user
    owners = _to_admit(dispatches)
    if not owners or cap == 0:
        return dispatches
    await session.flush()
    held: list[uuid.UUID] = []
    for owner_id, entering in owners.items():
        await session.execute(_LOCK, {"owner": str(owner_id)})
        in_lane = (await session.execute(_in_lane(owner_id, [d.job_id for d in entering]))).scalar_one()
        held += _over_the_cap(entering, in_lane, cap)
    if held:
        await session.execute(_hold(held))
    return [dispatch for dispatch in dispatches if dispatch.job_id not in set(held)]


@functools.cache
def _held_jobs() -> Select[Any]:
    """The user's held jobs, next first (built once: it runs on every finish in the lane)."""
    return (
        select(Job.id, Job.kind, Job.stage, Job.priority)
        .where(
            Job.owner_id == bindparam("p_owner", type_=Job.owner_id.type),
            Job.held,  # as ix_jobs_held is written: `held IS TRUE` would not use it
            Job.status == JobStatus.queued.value,
        )
        .order_by(Job.priority.desc(), Job.created_at)
        .limit(bindparam("p_limit", type_=Integer))
    )


@functools.cache
def _in_lane_of_owner() -> Select[Any]:
    return _in_lane(bindparam("p_owner", type_=Job.owner_id.type))  # type: ignore[arg-type]


def release_held(session: Session, *, owner_id: uuid.UUID, route_of: RouteOf) -> int:
    """Send the user's next held jobs, as many as the user has room for; how many went.

    Call it in the transaction that ends (or moves out of the lane) one of the user's jobs: the
    held jobs go once it commits."""
    cap = get_settings().llm_slots_per_user
    # Without a cap nothing is counted, so nothing can race a submit's count. The lock comes before
    # the held jobs are read, in a statement of its own (or the finish's): that read's snapshot
    # then holds every held job a submit committed while this transaction waited for the lock.
    if cap and session.info.pop(OWNER_LOCKED, None) != owner_id:
        session.execute(_LOCK, {"owner": str(owner_id)})
    # The held jobs first: most users have none, and then the count of the lane is not needed
    # (two statements on every finish in the lane, where there were three).
    rows = session.execute(_held_jobs(), {"p_owner": owner_id, "p_limit": cap or None}).all()
    if rows and cap:
        rows = rows[: max(0, cap - session.execute(_in_lane_of_owner(), {"p_owner": owner_id}).scalar_one())]
    if not rows:
        return 0
    session.execute(_released(), {"p_ids": [row.id for row in rows]})
    return _send_released(session, rows, route_of)


def _send_released(writer: unit_of_work.Writer, rows: Sequence[Any], route_of: RouteOf) -> int:
    """Each released job's message, once the transaction commits, in the order given."""
    for row in rows:
        unit_of_work.dispatch_job(
            writer, job_id=row.id, route=route_of(row.kind, row.stage), priority=row.priority
        )
    return len(rows)


@functools.cache
def released_by_a_finish() -> Any:
    """The owner's next held jobs let go (highest priority, then oldest), as many as the owner has
    room for, by the statement after a finish in the same transaction (db/jobs.py
    `finish_and_release`); RETURNING each job's id, kind, stage, priority and creation time.

    Only when that finish moved the job (`p_job` ended `succeeded` under this delivery's claim):
    its statement then took the owner's lock, and this one's snapshot, taken after it, sees every
    held job a submit committed while the finish waited for the lock. A finish that moved nothing
    took no lock, and this lets nothing go: the caller then releases in a transaction that locks
    first (`release_held`). Built once; its lists are written in, since it runs on the driver."""
    jobs = Job.__table__
    finished, in_lane, held, waiting = (
        jobs.alias(name) for name in ("finished", "in_lane", "held_job", "waiting")
    )
    owner = bindparam("p_owner", type_=jobs.c.owner_id.type)
    moved_by_the_finish = (
        select(finished.c.id)
        .where(
            finished.c.id == bindparam("p_job", type_=jobs.c.id.type),
            finished.c.status == literal(JobStatus.succeeded.value),
            finished.c.attempts == bindparam("p_attempt", type_=Integer),
            finished.c.stage.is_not_distinct_from(bindparam("p_claim_stage", type_=String)),
        )
        .exists()
    )
    holds_some = select(waiting.c.id).where(*_held_of(waiting, owner)).exists()
    slots_taken = (
        select(func.count())
        .select_from(in_lane)
        .where(
            in_lane.c.owner_id == owner,
            in_lane.c.status.in_([literal(status) for status in ACTIVE]),
            in_lane.c.queue.in_([literal(queue) for queue in sorted(lanes.ADMITTED)]),
            in_lane.c.held.is_(false()),
        )
        .scalar_subquery()
    )
    # The owner's jobs in the lane are counted only when some are held: most owners have none, and
    # PostgreSQL runs a subquery of a CASE only when its branch is taken (EXPLAIN: "never executed").
    room = case(
        (
            and_(moved_by_the_finish, holds_some),
            func.greatest(0, bindparam("p_slots", type_=Integer) - slots_taken),
        ),
        else_=0,
    )
    next_held = (
        select(held.c.id)
        .where(*_held_of(held, owner))
        .order_by(held.c.priority.desc(), held.c.created_at)
        .limit(room)
    )
    return (
        update(jobs)
        # `= ANY (ARRAY(...))`: the few ids are found first, then each by its key. `IN (...)` let the
        # planner scan every queued job of every user and match each against them (EXPLAIN).
        .where(jobs.c.id == any_(func.array(next_held.scalar_subquery())))
        .where(jobs.c.status == literal(JobStatus.queued.value))
        .values(held=False, progress=None)
        .returning(jobs.c.id, jobs.c.kind, jobs.c.stage, jobs.c.priority, jobs.c.created_at)
    )


def _held_of(jobs: Any, owner: Any) -> tuple[Any, ...]:
    """The owner's held jobs, in `jobs` (an alias of the table)."""
    # `held`, as ix_jobs_held is written: PostgreSQL does not take `held IS TRUE` for it (EXPLAIN).
    return (jobs.c.owner_id == owner, jobs.c.held, jobs.c.status == literal(JobStatus.queued.value))


class ReleasedJob(NamedTuple):
    """A row `released_by_a_finish` returns."""

    id: uuid.UUID
    kind: str
    stage: str | None
    priority: int
    created_at: datetime


def send_released(writer: unit_of_work.Writer, rows: Sequence[tuple[Any, ...]], route_of: RouteOf) -> int:
    """`released_by_a_finish`'s jobs sent once the transaction commits, next first (RETURNING
    keeps no order)."""
    released = sorted(map(ReleasedJob._make, rows), key=lambda job: (-job.priority, job.created_at))
    return _send_released(writer, released, route_of)


@functools.cache
def _released() -> Any:
    """Held jobs let go: a Core UPDATE of the table, built once. As an ORM update of Job it went
    through the ORM's bulk-update machinery and was built again on every finish that released a
    job (about 3 % of the llm worker's CPU under one account's burst, benchmarks.profile_job_path);
    the worker's finishing session holds no Job to keep in step (it reads JobSnapshots)."""
    jobs = Job.__table__
    return (
        update(jobs)
        .where(jobs.c.id.in_(bindparam("p_ids", expanding=True)), jobs.c.status == JobStatus.queued.value)
        .values(held=False, progress=None)
    )


@functools.cache
def _owners_holding() -> Select[Any]:
    return (
        select(Job.owner_id)
        .where(Job.held, Job.status == JobStatus.queued.value)  # ix_jobs_held (`held`, not IS TRUE)
        .group_by(Job.owner_id)
        .limit(bindparam("p_limit", type_=Integer))
    )


def owners_with_held_jobs(session: Session, *, limit: int) -> list[uuid.UUID]:
    """Users with held jobs (the reconciler checks each has no room left)."""
    rows = session.execute(_owners_holding(), {"p_limit": limit})
    return [owner for (owner,) in rows if owner is not None]
