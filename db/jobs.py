"""Job transitions and queries.

Every transition is one conditional UPDATE ... WHERE status IN (...) RETURNING, so a duplicate
delivery, a race with cancel or a late worker is harmless: whoever loses the UPDATE gets None
and does nothing. Each transition also records a job event (and the webhook message the job
asked for) in the same transaction, and puts what must be sent once it commits (the live event,
the webhook message, the job's next message) in the session's outbox (db/unit_of_work.py).
"""

from __future__ import annotations

import functools
import uuid
from collections import namedtuple
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    CTE,
    ColumnElement,
    Integer,
    Interval,
    Select,
    String,
    Text,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core import lanes
from core.jobspec import JobSpec, Route
from core.settings import get_settings
from core.sql_limits import MAX_INTEGER
from db import admission
from db.direct_statement import AsyncDirectStatement, AsyncDirectTransaction, DirectTransaction
from db.job_resource import job_resource
from db.models import ACTIVE, Job, JobEvent, JobStatus, WebhookDelivery
from db.unit_of_work import Writer, dispatch_job, outbox

# job event -> (the webhook_events_filter entry that selects it, the webhook event type)
WEBHOOK_EVENTS = {
    "started": ("start", "job.started"),
    "progress": ("progress", "job.progress"),
    "output": ("output", "job.output"),
    "succeeded": ("completed", "job.succeeded"),
    "failed": ("completed", "job.failed"),
    "canceled": ("completed", "job.canceled"),
}


def _record_event(
    session: Session | AsyncSession,
    job: Job,
    type_: str,
    data: dict[str, Any] | None,
    *,
    notify: bool = True,
    live: bool = True,
) -> JobEvent:
    """Add the event, and its webhook message when the job asked for that event (in the same transaction)."""
    if isinstance(session, Session) and job not in session.new:
        # A worker's transition: one INSERT ... RETURNING now, not an ORM object for the flush to
        # write (the flush's bookkeeping cost more CPU than the statement). The event is a plain
        # record of what was written, outside the session; its order in the timeline is the same.
        written = session.execute(
            insert(JobEvent)
            .values(job_id=job.id, type=type_, data=data)
            .returning(JobEvent.id, JobEvent.created_at)
        ).one()
        event = JobEvent(id=written.id, job_id=job.id, type=type_, data=data, created_at=written.created_at)
    else:
        # The API's async session, or a job not written yet (its `queued` event waits for the flush).
        event = JobEvent(job_id=job.id, type=type_, data=data)
        session.add(event)
    _announce(session, job, event, notify=notify, live=live)
    return event


def _announce(
    session: Session | AsyncSession,
    job: Job | JobSnapshot,
    event: JobEvent | RecordedEvent,
    *,
    notify: bool = True,
    live: bool = True,
) -> None:
    """Once committed: publish the recorded event live, and queue its webhook when the job asked for it."""
    box = outbox(session)
    (box.events if live else box.quiet_events).append((event, job))
    if notify and job.webhook_url and job.webhook_disabled_at is None and event.type in WEBHOOK_EVENTS:
        wanted, webhook_type = WEBHOOK_EVENTS[event.type]
        if wanted in (job.webhook_events or ["completed"]):
            delivery = WebhookDelivery(
                id=uuid.uuid4(),
                job_id=job.id,
                event_type=webhook_type,
                url=job.webhook_url,
                payload={
                    "type": webhook_type,
                    "timestamp": datetime.now(UTC).isoformat(),
                    "data": job_resource(job),
                },
                status="pending",
                attempts=0,
            )
            session.add(delivery)
            box.deliveries.append(delivery.id)


def _transition(*conditions: Any, **values: Any):
    return (
        update(Job)
        .where(*conditions)
        .values(**values)
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


# --- a worker's transitions: statements built once ----------------------------------------------
#
# A worker's claim, progress, output and ending each write the job's row (or read it) and its event
# in ONE statement: the UPDATE ... RETURNING (or SELECT) of the job as a CTE, and the INSERT of the
# event from the row it gave. No row, no event. Each statement is built once, with its varying
# values as bind parameters: building a CTE and its cache key on every call cost the worker more
# CPU than running it. The parameters' names are no column's (`p_`): in an UPDATE, a parameter
# named like a column is taken as one more value to SET.
#
# They run as Core on the session's connection, and the job's row comes back as a JobSnapshot,
# not a Job: the ORM's execution layer, its loading into the identity map and the instance state
# of a Job and a JobEvent cost 8 % of a quick job's worker CPU (py-spy), for objects only read.

JOBS = Job.__table__
EVENTS = JobEvent.__table__
_EVENT_TYPE = bindparam("p_event_type", type_=String)
_EVENT_DATA = bindparam("p_event_data", type_=JSONB)
_JOB_ID = bindparam("p_job", type_=Job.id.type)
# The delivery that claimed the job, when a worker writes it: its attempt at its stage (a
# fencing token). A worker cut off past MENTORQ_STALE_AFTER_SECONDS has its job requeued and
# claimed again; when its link comes back, its writes find another attempt and change nothing,
# and its watcher stops it. None (the reconciler, an admin): no claim to check.
_CLAIM_ATTEMPT = bindparam("p_attempt", type_=Integer)
_OWNED = or_(
    _CLAIM_ATTEMPT.is_(None),
    and_(
        Job.attempts == _CLAIM_ATTEMPT,
        Job.stage.is_not_distinct_from(bindparam("p_claim_stage", type_=String)),
    ),
)


class Claim(NamedTuple):
    """Which delivery holds a running job: the attempt its claim counted, at its stage."""

    attempt: int
    stage: str | None

    def params(self) -> dict[str, Any]:
        return {"p_attempt": self.attempt, "p_claim_stage": self.stage}

    def conditions(self) -> tuple[Any, ...]:
        return (Job.attempts == self.attempt, Job.stage.is_not_distinct_from(self.stage))


_UNCLAIMED = {"p_attempt": None, "p_claim_stage": None}
# The provider and model that answered the job's last LLM call (db/llm_routes.py): written with
# the transition that ends the delivery, and left as they were when no LLM answered this time.
_ANSWERED = {
    "llm_provider": func.coalesce(bindparam("p_provider", type_=String), Job.llm_provider),
    "llm_model": func.coalesce(bindparam("p_model", type_=String), Job.llm_model),
}


JobSnapshot = namedtuple("JobSnapshot", [column.key for column in JOBS.c])  # type: ignore[misc]
JobSnapshot.__doc__ = """A job's row as a worker's transition returned it: read like a Job (the
same attribute names), but outside any session, and never written back."""
_JOB_WIDTH = len(JOBS.c)


class RecordedEvent(NamedTuple):
    """A job event as a transition wrote it: what its live message and webhook are made from."""

    id: int
    job_id: uuid.UUID
    type: str
    data: Any
    created_at: datetime


def _with_event(
    source: Any,
    data: ColumnElement[Any] | Callable[[CTE], ColumnElement[Any]] = _EVENT_DATA,
    *,
    lock_owner: bool = False,
):
    """`source` (selecting or moving one job, RETURNING it) and the INSERT of its event, as one
    SELECT of the job (its columns, a JobSnapshot's) and the event's id, time and data. `data` may
    build the event's data in SQL from the job's row as `source` left it. `lock_owner`: the
    statement also takes the job's owner's admission lock (`_owner_locked`)."""
    job_row = source.cte("job_row")
    event_data = data(job_row) if callable(data) else data
    recorded = (
        insert(EVENTS)
        .from_select(["job_id", "type", "data"], select(job_row.c.id, _EVENT_TYPE, event_data))
        .returning(EVENTS.c.id, EVENTS.c.created_at, EVENTS.c.data)
        .cte("recorded")
    )
    found = select(job_row, recorded.c.id, recorded.c.created_at, recorded.c.data).join(recorded, true())
    return found.join(_owner_locked(job_row), true()) if lock_owner else found


def _owner_locked(job_row: CTE) -> CTE:
    """The moved job's owner's admission lock (db/admission.py), taken by the statement that moves
    it. Joined into the statement's result, so it runs (an unreferenced CTE would not) once the job
    is moved, and only when it was: no row, no lock. The lock is held to the transaction's end, and
    the statement that reads the owner's held jobs next sees every job committed before it."""
    return select(admission.owner_lock(job_row.c.owner_id).label("locked")).cte("owner_locked")


def _with_output_then_event(source: Any, *, lock_owner: bool = False) -> Any:
    """`_with_event`, with the job's last streamed output recorded first, in the same statement: an
    `output` event (`p_streamed`) and then the transition's event. The second INSERT reads the
    first's RETURNING row, so the output's id is drawn first and the timeline keeps its order."""
    job_row = source.cte("job_row")
    columns = ["job_id", "type", "data"]
    streamed = (
        insert(EVENTS)
        .from_select(
            columns, select(job_row.c.id, literal_column("'output'"), bindparam("p_streamed", type_=JSONB))
        )
        .returning(EVENTS.c.id, EVENTS.c.created_at, EVENTS.c.data)
        .cte("streamed")
    )
    recorded = (
        insert(EVENTS)
        .from_select(
            columns,
            select(job_row.c.id, _EVENT_TYPE, _EVENT_DATA).select_from(job_row.join(streamed, true())),
        )
        .returning(EVENTS.c.id, EVENTS.c.created_at, EVENTS.c.data)
        .cte("recorded")
    )
    found = (
        select(
            *job_row.c,
            streamed.c.id,
            streamed.c.created_at,
            streamed.c.data,
            recorded.c.id,
            recorded.c.created_at,
            recorded.c.data,
        )
        .select_from(job_row)
        .join(streamed, true())
        .join(recorded, true())
    )
    return found.join(_owner_locked(job_row), true()) if lock_owner else found


def _move(*conditions: Any, **values: Any) -> Any:
    """A worker's transition as plain Core on the table: the SELECT around it maps the row it
    returns back to a Job, so the ORM's UPDATE machinery has nothing to add."""
    return update(JOBS).where(*conditions).values(**values).returning(*JOBS.c)


@functools.cache
def _statement(name: str, lock_owner: bool = False) -> Any:
    """The prebuilt transition `name`. `lock_owner` (the finishes only): it also takes the job's
    owner's admission lock, for a finish that releases the owner's held jobs next (a capped lane):
    one round trip fewer than a lock statement of its own."""
    running = and_(Job.status == JobStatus.running.value, _OWNED)
    if name in ("claim", "claim_unless_start_webhook"):
        no_start_webhook = or_(
            Job.webhook_url.is_(None),
            Job.webhook_disabled_at.is_not(None),
            ~func.coalesce(Job.webhook_events, cast(["completed"], JSONB), type_=JSONB).has_key(
                WEBHOOK_EVENTS["started"][0]
            ),
        )
        return _with_event(
            _move(
                Job.id == _JOB_ID,
                Job.status == JobStatus.queued.value,
                Job.stage.is_not_distinct_from(bindparam("p_stage", type_=String)),
                Job.attempts < Job.max_attempts,
                *([no_start_webhook] if name == "claim_unless_start_webhook" else []),
                status=JobStatus.running.value,
                attempts=Job.attempts + 1,
                worker=bindparam("p_worker", type_=String),
                started_at=func.now(),
                heartbeat_at=func.now(),
                deadline_at=func.now() + bindparam("p_time_limit", type_=Interval),
                progress=None,
            ),
            lambda job: func.jsonb_build_object(
                literal_column("'attempt'"),
                job.c.attempts,
                literal_column("'worker'"),
                cast(bindparam("p_worker", type_=String), Text),
            ),
        )
    if name == "progress":
        return _with_event(_move(Job.id == _JOB_ID, running, progress=_EVENT_DATA, heartbeat_at=func.now()))
    if name == "running":  # an event of a running job that changes nothing on its row (output)
        return _with_event(select(Job).where(Job.id == _JOB_ID, running))
    if name in ("finish", "finish_streamed"):
        finish = _move(
            Job.id == _JOB_ID,
            running,
            status=JobStatus.succeeded.value,
            output=bindparam("p_output", type_=JSONB),
            error=None,
            progress={"stage": "done", "fraction": 1.0, "message": None},
            completed_at=func.now(),
            **_ANSWERED,
        )
        if name == "finish_streamed":
            return _with_output_then_event(finish, lock_owner=lock_owner)
        return _with_event(finish, lock_owner=lock_owner)
    if name == "fail":
        return _with_event(
            _move(
                Job.id == _JOB_ID,
                Job.status.in_(bindparam("p_statuses", expanding=True)),
                _OWNED,
                status=JobStatus.failed.value,
                error=_EVENT_DATA,
                completed_at=func.now(),
                **_ANSWERED,
            )
        )
    raise KeyError(name)


def _answered_params(answered_by: tuple[str, str] | None) -> dict[str, str | None]:
    provider, model = answered_by or (None, None)
    return {"p_provider": provider, "p_model": model[:200] if model else None}


def _step(
    session: Session,
    name: str,
    *,
    job_id: uuid.UUID,
    event_type: str,
    event_data: dict[str, Any] | None = None,
    notify: bool = True,
    claim: Claim | None = None,
    lock_owner: bool = False,
    **params: Any,
) -> JobSnapshot | None:
    """Run a prebuilt transition and announce its event; None when the job was not in the state
    the transition needs, or (with `claim`) another delivery holds it: then nothing was written."""
    owner = claim.params() if claim is not None else _UNCLAIMED
    row = (
        session.connection()
        .execute(
            _statement(name, lock_owner),
            {"p_job": job_id, "p_event_type": event_type, "p_event_data": event_data, **owner, **params},
        )
        .one_or_none()
    )
    if row is None:
        return None
    job = JobSnapshot._make(row[:_JOB_WIDTH])
    event_id, created_at, data = row[_JOB_WIDTH:]
    _announce(session, job, RecordedEvent(event_id, job.id, event_type, data, created_at), notify=notify)
    return job


# --- creating --------------------------------------------------------------------------------


def create_job(
    session: Session | AsyncSession,
    spec: JobSpec,
    *,
    input: dict[str, Any],
    owner_id: uuid.UUID | None,
    priority: int = 0,
    job_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
    request_fingerprint: str | None = None,
    webhook_url: str | None = None,
    webhook_events: list[str] | None = None,
) -> Job:
    """A queued job of `spec`'s kind and its `queued` event; its message goes once the transaction commits.

    Nothing is flushed here: the unit of work inserts the job before its event, and the commit
    loads the server defaults (created_at). The `queued` event is not sent live: nobody can be
    listening to a job that did not exist (a waiting submitter already has it in hand)."""
    job = Job(
        **_queued(
            spec,
            job_id=job_id,
            input=input,
            owner_id=owner_id,
            session_id=session_id,
            priority=priority,
            idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint,
            webhook_url=webhook_url,
            webhook_events=webhook_events,
        )
    )
    session.add(job)
    _record_event(session, job, "queued", None, live=False)
    _dispatch_new(session, spec, job)
    return job


def _queued(spec: JobSpec, *, job_id: uuid.UUID | None, **columns: Any) -> dict[str, Any]:
    """A new job's columns: queued, no attempt yet, the kind's queue and attempts."""
    return {
        "id": job_id or uuid.uuid4(),
        "kind": spec.name,
        "status": JobStatus.queued.value,
        "attempts": 0,
        "max_attempts": spec.max_attempts,
        "queue": spec.queue,
        "held": False,
        **columns,
    }


def _dispatch_new(session: Writer, spec: JobSpec, job: Job) -> None:
    """Send a new job's first message once the transaction commits (held past its owner's cap)."""
    outbox(session).created.append(spec.name)
    dispatch_job(
        session,
        job_id=job.id,
        route=spec.route(),
        priority=job.priority,
        admit_owner=_admitted(spec.queue, job.owner_id),
    )


# A job submitted through the API (POST /v1/jobs) is written by one statement built once: its row,
# inserted only while its owner holds fewer active jobs than the cap (the quota, counted in the
# same statement), and its `queued` event from the row it gave. No row: the owner is at the cap.
_SUBMITTED = (
    "id",
    "kind",
    "owner_id",
    "session_id",
    "status",
    "input",
    "attempts",
    "max_attempts",
    "queue",
    "priority",
    "idempotency_key",
    "request_fingerprint",
    "webhook_url",
    "webhook_events",
    "held",
)


@functools.cache
def _submit_statement(lock_owner: bool = False, keyed: bool = False) -> Any:
    """The submit: the job (its columns: it runs straight on the driver, db/direct_statement.py,
    which maps no entity) and its `queued` event, if the owner is under the cap. `lock_owner`: it
    also takes the owner's admission lock once the job is written (db/admission.py). `keyed`: only
    while this transaction holds the Idempotency-Key's lock and no job of the owner has the key
    (`submit_keyed_job`)."""
    active = (
        select(func.count())
        .select_from(Job)
        .where(
            Job.owner_id == bindparam("p_owner_id", type_=Job.owner_id.type),
            # a parameter each, not a list expanded when it runs (db/direct_statement.py runs this)
            Job.status.in_([literal(status) for status in ACTIVE]),
        )
        .scalar_subquery()
    )
    row = select(*(bindparam(f"p_{name}", type_=JOBS.c[name].type) for name in _SUBMITTED)).where(
        active < bindparam("p_cap", type_=Integer)
    )
    if keyed:
        # The lock again: a session's advisory locks stack, so this is true once the transaction's
        # first statement took it, and false while another request with the key holds it.
        row = row.where(_key_lock(), ~_keyed_job().exists())
    submitted = insert(JOBS).from_select(list(_SUBMITTED), row).returning(*JOBS.c)
    return _with_event(submitted, lock_owner=lock_owner)


async def submit_job_within_quota(
    session: AsyncDirectStatement | AsyncDirectTransaction,
    spec: JobSpec,
    *,
    input: dict[str, Any],
    owner_id: uuid.UUID,
    cap: int | None,
    priority: int = 0,
    job_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
    request_fingerprint: str | None = None,
    webhook_url: str | None = None,
    webhook_events: list[str] | None = None,
) -> Job | None:
    """`create_job` for a client's submit, in one round trip; None (nothing written) when the owner
    already has `cap` queued or running jobs (None: no cap). The quota is counted by the statement
    that inserts (a count and an insert were two round trips); as before, two submits at the same
    instant at the cap's edge can both pass, since neither sees the other's uncommitted row."""
    params = _submit_params(
        spec,
        cap,
        job_id=job_id,
        input=input,
        owner_id=owner_id,
        priority=priority,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        webhook_url=webhook_url,
        webhook_events=webhook_events,
    )
    if isinstance(session, AsyncDirectTransaction):
        return await _submit_admitted(session, spec, params)
    row = (await session.execute(_submit_statement(), params)).one_or_none()
    if row is None:
        return None
    # The row is the job's columns: a Job outside any session is made of them (what the API reads
    # and answers with).
    job = Job(**JobSnapshot._make(row[:_JOB_WIDTH])._asdict())
    # The `queued` event is not sent live (nobody can be listening yet) and asks for no webhook.
    _dispatch_new(session, spec, job)
    return job


async def _submit_admitted(
    transaction: AsyncDirectTransaction, spec: JobSpec, params: dict[str, Any]
) -> Job | None:
    """The submit into a lane admitted per user (db/admission.py) as one transaction in one round
    trip: the job, its event and its owner's lock in one statement, then the hold if the owner's
    other jobs in the lane fill their slots. What a submit's commit did through the ORM (the job,
    then the lock, the count and the hold), in two statements: a finish that commits while the
    submit waits for the lock is seen by the count, and one that locks after it sees the job held."""
    submitted, held = await transaction.execute_all(
        [
            (_submit_statement(lock_owner=True), params),
            (admission.held_past_the_cap(), _hold_params(params)),
        ]
    )
    if not submitted:
        return None
    return _submitted_job(transaction, spec, submitted[0], held=bool(held))


# What a submit leaves out, as submit_job_within_quota's defaults say.
_SUBMIT_DEFAULTS = {
    "priority": 0,
    "idempotency_key": None,
    "request_fingerprint": None,
    "webhook_url": None,
    "webhook_events": None,
}


def _submit_params(
    spec: JobSpec, cap: int | None, *, job_id: uuid.UUID | None, **columns: Any
) -> dict[str, Any]:
    """The submit statement's parameters: the new job's columns, the cap, its `queued` event."""
    values = _queued(spec, job_id=job_id, session_id=None, **(_SUBMIT_DEFAULTS | columns))
    params = {f"p_{name}": values[name] for name in _SUBMITTED}
    return params | {
        "p_cap": MAX_INTEGER if cap is None else cap,
        "p_event_type": "queued",
        "p_event_data": None,
    }


def _hold_params(params: dict[str, Any]) -> dict[str, Any]:
    """`admission.held_past_the_cap`'s, for the job the submit's parameters write."""
    return {
        "p_id": params["p_id"],
        "p_owner": params["p_owner_id"],
        "p_slots": get_settings().llm_slots_per_user,
    }


def _submitted_job(transaction: AsyncDirectTransaction, spec: JobSpec, row: Any, *, held: bool) -> Job:
    """The job a direct transaction's submit wrote, its message in the outbox unless it was held.
    The statements decided its admission (counted, or no cap), so the message asks for none."""
    job = Job(**JobSnapshot._make(row[:_JOB_WIDTH])._asdict())
    outbox(transaction).created.append(spec.name)
    if held:
        job.held, job.progress = True, admission.HELD_PROGRESS  # as the hold left the row
    else:
        dispatch_job(transaction, job_id=job.id, route=spec.route(), priority=job.priority)
    return job


class KeyedSubmit(NamedTuple):
    """What `submit_keyed_job` found: another request with the key in flight, the job the key
    already names, or the new job (None: the owner is at the cap)."""

    in_flight: bool
    existing: Job | None
    job: Job | None


def _key_lock() -> Any:
    """The Idempotency-Key's lock for this transaction (`p_key_lock`: "<owner id>:<key>"), taken at
    once or not at all; the same lock whatever takes it (tests/jobs/test_idempotency.py holds it as
    a request in flight would)."""
    return func.pg_try_advisory_xact_lock(func.hashtextextended(bindparam("p_key_lock", type_=Text), 0))


def _keyed_job() -> Select[Any]:
    """The owner's job that has the key, if any (uq_jobs_owner_idempotency_key)."""
    return select(*JOBS.c).where(
        JOBS.c.owner_id == bindparam("p_owner_id", type_=JOBS.c.owner_id.type),
        JOBS.c.idempotency_key == bindparam("p_idempotency_key", type_=JOBS.c.idempotency_key.type),
    )


@functools.cache
def _keyed_statements() -> tuple[Any, Any]:
    return select(_key_lock().label("locked")), _keyed_job()


async def submit_keyed_job(
    transaction: AsyncDirectTransaction,
    spec: JobSpec,
    *,
    key_lock: str,
    cap: int | None,
    job_id: uuid.UUID | None = None,
    **submitted: Any,
) -> KeyedSubmit:
    """A submit with an Idempotency-Key as one transaction in one round trip (issue 63), where the
    ORM took BEGIN, the key's lock, the lookup, the job and COMMIT: the key's lock; then the job the
    key names, read after the lock (a request with the key that committed meanwhile is seen); then
    the job, written only if the lock is held and the key names none; and in a lane admitted per
    user, the hold (`_submit_admitted`). Statements cannot branch inside a pipeline, so each later
    one carries its own conditions. `submitted`: the job's columns, as `submit_job_within_quota`
    takes them (`idempotency_key` among them); `key_lock`: the owner and the key."""
    params = _submit_params(spec, cap, job_id=job_id, **submitted) | {"p_key_lock": key_lock}
    capped = admission.may_hold(spec.queue)
    locking, lookup = _keyed_statements()
    statements = [
        (locking, params),
        (lookup, params),
        (_submit_statement(lock_owner=capped, keyed=True), params),
    ]
    if capped:
        statements.append((admission.held_past_the_cap(), _hold_params(params)))
    locked, existing, written, *held = await transaction.execute_all(statements)
    if not locked[0][0]:
        return KeyedSubmit(in_flight=True, existing=None, job=None)
    if existing:
        return KeyedSubmit(False, Job(**JobSnapshot._make(existing[0])._asdict()), None)
    if not written:
        return KeyedSubmit(False, None, None)
    return KeyedSubmit(
        False, None, _submitted_job(transaction, spec, written[0], held=bool(held and held[0]))
    )


def _admitted(queue: str, owner_id: uuid.UUID | None) -> uuid.UUID | None:
    """The owner whose per-user cap a job entering `queue` counts against (db/admission.py), if any."""
    return owner_id if queue in lanes.ADMITTED else None


def create_answered_job(
    session: Session | AsyncSession,
    spec: JobSpec,
    *,
    input: dict[str, Any],
    output: dict[str, Any],
    owner_id: uuid.UUID,
    session_id: uuid.UUID | None = None,
    webhook_url: str | None = None,
    webhook_events: list[str] | None = None,
) -> Job:
    """A job that is already succeeded (an answer the API found in the answer cache): it has its
    `succeeded` event and webhook like any other, and nothing goes to a queue."""
    now = datetime.now(UTC)
    job = Job(
        id=uuid.uuid4(),
        kind=spec.name,
        owner_id=owner_id,
        session_id=session_id,
        status=JobStatus.succeeded.value,
        input=input,
        output=output,
        progress={"stage": "done", "fraction": 1.0, "message": "answered from the cache"},
        attempts=0,
        max_attempts=spec.max_attempts,
        queue=spec.queue,
        priority=0,
        webhook_url=webhook_url,
        webhook_events=webhook_events,
        created_at=now,
        started_at=now,
        completed_at=now,
        instructions_version=output.get("instructions_version"),
    )
    session.add(job)
    outbox(session).created.append(spec.name)
    _record_event(session, job, "succeeded", None, live=False)
    return job


# --- queries ----------------------------------------------------------------------------------


def recent_failures(session: Session, *, kind: str, within_s: float) -> int:
    """Failed jobs of a kind that ended within the last `within_s` seconds."""
    return session.execute(
        select(func.count())
        .select_from(Job)
        .where(
            Job.kind == kind,
            Job.status == JobStatus.failed.value,
            Job.completed_at > func.now() - timedelta(seconds=within_s),
        )
    ).scalar_one()


def active_jobs_of_kind(session: Session, *, kind: str) -> int:
    """How many jobs of a kind are queued or running (beat schedules more only when none are)."""
    return session.execute(
        select(func.count()).select_from(Job).where(Job.kind == kind, Job.status.in_(tuple(ACTIVE)))
    ).scalar_one()


async def get_job(session: AsyncSession, *, job_id: uuid.UUID, owner_id: uuid.UUID | None) -> Job | None:
    """The job, if it exists and `owner_id` (None for admins) may see it."""
    query = select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    if owner_id is not None:
        query = query.where(Job.owner_id == owner_id)
    return (await session.execute(query)).scalar_one_or_none()


async def list_jobs(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID | None,
    kind: str | None,
    status: str | None,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> list[Job]:
    """Newest first; `before` is the (created_at, id) of the last job of the previous page."""
    query: Select[tuple[Job]] = select(Job)
    if owner_id is not None:
        query = query.where(Job.owner_id == owner_id)
    if kind is not None:
        query = query.where(Job.kind == kind)
    if status is not None:
        query = query.where(Job.status == status)
    if before is not None:
        created_at, job_id = before
        query = query.where(
            or_(Job.created_at < created_at, and_(Job.created_at == created_at, Job.id < job_id))
        )
    query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


async def cancel_job(session: AsyncSession, *, job_id: uuid.UUID) -> Job | None:
    """queued|running -> canceled. A running worker notices at its next check and stops."""
    return await session.run_sync(lambda sync_session: cancel_job_sync(sync_session, job_id=job_id))


def cancel_job_sync(session: Session, *, job_id: uuid.UUID) -> Job | None:
    """cancel_job in a worker's (or run_sync's) session."""
    job = session.execute(
        _transition(
            Job.id == job_id,
            Job.status.in_(tuple(ACTIVE)),
            status=JobStatus.canceled.value,
            completed_at=func.now(),
        )
    ).scalar_one_or_none()
    if job is not None:
        _record_event(session, job, "canceled", None)
    return job


def cancel_active_jobs_of(session: Session, *, owner_id: uuid.UUID) -> list[uuid.UUID]:
    """Cancel every queued or running job of the user (an account deletion); returns their ids."""
    canceled = session.execute(
        _transition(
            Job.owner_id == owner_id,
            Job.status.in_(tuple(ACTIVE)),
            status=JobStatus.canceled.value,
            completed_at=func.now(),
        )
    ).scalars()
    jobs = list(canceled)
    for job in jobs:
        _record_event(session, job, "canceled", {"reason": "account_deleted"}, notify=False)
    return [job.id for job in jobs]


async def events_after(
    session: AsyncSession, *, job_id: uuid.UUID, after_id: int, limit: int | None = None
) -> list[JobEvent]:
    """The job's recorded events with id > after_id, oldest first (at most `limit` of them)."""
    query = select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.id > after_id).order_by(JobEvent.id)
    result = await session.execute(query.limit(limit))
    return list(result.scalars())


# --- worker side (sync) -----------------------------------------------------------------------


def claim_job(
    session: Session,
    *,
    job_id: uuid.UUID,
    worker: str,
    time_limit_s: float,
    stage: str | None = None,
    unless_start_webhook: bool = False,
) -> JobSnapshot | None:
    """queued -> running, counting the attempt; None if another has it, it ended, or is at another stage.

    `unless_start_webhook`: also None when the job's webhook asks for its `started` event. The
    claim is then one statement with nothing else to write, which may run in autocommit
    (db.unit_of_work.one_statement); a job whose start sends a webhook is claimed in a
    transaction that also writes the delivery."""
    return _step(
        session,
        "claim_unless_start_webhook" if unless_start_webhook else "claim",
        job_id=job_id,
        event_type="started",
        p_worker=worker,
        p_stage=stage,
        p_time_limit=timedelta(seconds=time_limit_s),
    )


def beat_heart(session: Session, *, job_id: uuid.UUID, claim: Claim | None = None) -> bool:
    """Refresh the heartbeat; False when the job is no longer running (canceled), or no longer
    this claim's (taken over after its worker was thought lost)."""
    result = session.execute(
        update(Job).where(*_held_by(job_id, claim)).values(heartbeat_at=func.now()).returning(Job.id)
    )
    return result.first() is not None


def still_held(session: Session, *, job_id: uuid.UUID, claim: Claim | None = None) -> bool:
    """Whether the job is running, and (with `claim`) by that delivery."""
    return session.execute(select(Job.id).where(*_held_by(job_id, claim))).first() is not None


def _held_by(job_id: uuid.UUID, claim: Claim | None) -> tuple[Any, ...]:
    """The job running, and (with `claim`) under that delivery's attempt at its stage."""
    return (Job.id == job_id, Job.status == JobStatus.running.value, *(claim.conditions() if claim else ()))


def job_status(session: Session, *, job_id: uuid.UUID) -> str | None:
    return session.execute(select(Job.status).where(Job.id == job_id)).scalar_one_or_none()


def set_progress(
    session: Session,
    *,
    job_id: uuid.UUID,
    progress: dict[str, Any],
    notify: bool = True,
    claim: Claim | None = None,
) -> bool:
    """Record progress on a running job; `notify=False` skips its webhook (throttling)."""
    job = _step(
        session,
        "progress",
        job_id=job_id,
        event_type="progress",
        event_data=progress,
        notify=notify,
        claim=claim,
    )
    return job is not None


def record_output(
    session: Session, *, job_id: uuid.UUID, delta: str, notify: bool = True, claim: Claim | None = None
) -> bool:
    """Record a piece of streamed output (coalesced LLM tokens) of a running job."""
    job = _step(
        session,
        "running",
        job_id=job_id,
        event_type="output",
        event_data={"delta": delta},
        notify=notify,
        claim=claim,
    )
    return job is not None


def record_event(
    session: Session, *, job_id: uuid.UUID, type_: str, data: dict[str, Any], claim: Claim | None = None
) -> bool:
    """Record another event of a running job (an LLM fallback); it sends no webhook."""
    job = _step(
        session, "running", job_id=job_id, event_type=type_, event_data=data, notify=False, claim=claim
    )
    return job is not None


def finish_job(
    session: Session,
    *,
    job_id: uuid.UUID,
    output: dict[str, Any],
    answered_by: tuple[str, str] | None = None,
    streamed: str | None = None,
    claim: Claim | None = None,
    lock_owner: bool = False,
) -> JobSnapshot | None:
    """running -> succeeded with the output (and the provider and model that answered it). With
    `streamed`, the output still unrecorded is its `output` event, written by the same statement
    (a quick job nobody follows pays one statement for both): only for a job whose webhook did not
    ask for output, since that event's webhook would describe the job as already succeeded.

    `lock_owner` (a job whose end sends its owner's next held job, in the same transaction): the
    statement also takes the owner's admission lock, and says so in the session
    (admission.OWNER_LOCKED) for `admission.release_held` to read."""
    statement, params = _finish(job_id, output, answered_by, streamed, claim, lock_owner)
    row = session.connection().execute(statement, params).one_or_none()
    if row is None:
        return None
    return _noted_lock(session, _finished(session, row, streamed is not None), lock_owner)


def finish_and_release(
    transaction: DirectTransaction,
    *,
    job_id: uuid.UUID,
    output: dict[str, Any],
    claim: Claim,
    owner_id: uuid.UUID,
    route_of: admission.RouteOf,
    answered_by: tuple[str, str] | None = None,
    streamed: str | None = None,
) -> JobSnapshot | None:
    """`finish_job` with `lock_owner`, then the owner's next held jobs released, as one transaction
    in one round trip (db/direct_statement.py): for a job that held one of its owner's slots in a
    capped lane and whose finish writes nothing else (no webhook delivery). None when the finish
    moved nothing (another delivery holds the job): then nothing was released either."""
    statement, params = _finish(job_id, output, answered_by, streamed, claim, lock_owner=True)
    release = {
        "p_job": job_id,
        **claim.params(),
        "p_owner": owner_id,
        "p_slots": get_settings().llm_slots_per_user,
    }
    finished, released = transaction.execute_all(
        [(statement, params), (admission.released_by_a_finish(), release)]
    )
    if not finished:
        return None
    job = _finished(transaction, finished[0], streamed is not None)
    admission.send_released(transaction, released, route_of)
    return job


def _finish(
    job_id: uuid.UUID,
    output: dict[str, Any],
    answered_by: tuple[str, str] | None,
    streamed: str | None,
    claim: Claim | None,
    lock_owner: bool,
) -> tuple[Any, dict[str, Any]]:
    """The finishing statement and its parameters (with `streamed`: the output's event first)."""
    params = {
        "p_job": job_id,
        "p_event_type": "succeeded",
        "p_event_data": None,
        "p_output": output,
        **(claim.params() if claim is not None else _UNCLAIMED),
        **_answered_params(answered_by),
    }
    if streamed is None:
        return _statement("finish", lock_owner), params
    return _statement("finish_streamed", lock_owner), params | {"p_streamed": {"delta": streamed}}


def _finished(writer: Writer, row: Any, streamed: bool) -> JobSnapshot:
    """The finished job, its events announced (the output's first, when the finish recorded it)."""
    job = JobSnapshot._make(row[:_JOB_WIDTH])
    recorded = row[_JOB_WIDTH:]
    if streamed:
        output_id, output_at, output_data = recorded[:3]
        _announce(writer, job, RecordedEvent(output_id, job.id, "output", output_data, output_at))
        recorded = recorded[3:]
    event_id, created_at, data = recorded
    _announce(writer, job, RecordedEvent(event_id, job.id, "succeeded", data, created_at))
    return job


def _noted_lock(session: Session, job: JobSnapshot | None, lock_owner: bool) -> JobSnapshot | None:
    """The finished job; its owner noted as locked in this transaction when the finish took the lock
    (it did only when it moved the job)."""
    if lock_owner and job is not None:
        session.info[admission.OWNER_LOCKED] = job.owner_id
    return job


def fail_job(
    session: Session,
    *,
    job_id: uuid.UUID,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    from_statuses: tuple[str, ...] = (JobStatus.running.value,),
    answered_by: tuple[str, str] | None = None,
    claim: Claim | None = None,
) -> JobSnapshot | None:
    """-> failed with `{code, message}` (and details, e.g. the raw text of an invalid answer)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return _step(
        session,
        "fail",
        job_id=job_id,
        event_type="failed",
        event_data=error,
        p_statuses=list(from_statuses),
        claim=claim,
        **_answered_params(answered_by),
    )


# A job going back to the queue belongs to no worker and waits to be published again.
_RELEASED = {"dispatched_at": None, "worker": None, "heartbeat_at": None, "deadline_at": None}


def hand_off_job(
    session: Session,
    *,
    job_id: uuid.UUID,
    stage: str,
    route: Route,
    message: str,
    answered_by: tuple[str, str] | None = None,
    claim: Claim | None = None,
) -> Job | None:
    """running -> queued at the next stage (another queue), sent there once committed. Attempts count
    per stage, so they restart."""
    progress = {"stage": stage, "fraction": None, "message": message}
    result = session.execute(
        _transition(
            Job.id == job_id,
            Job.status == JobStatus.running.value,
            *(claim.conditions() if claim else ()),
            status=JobStatus.queued.value,
            stage=stage,
            queue=route.queue,
            attempts=0,
            progress=progress,
            **_RELEASED,
            **_ANSWERED,
        ),
        _answered_params(answered_by),
    )
    job = result.scalar_one_or_none()
    if job is not None:
        _record_event(session, job, "progress", progress)
        dispatch_job(
            session,
            job_id=job.id,
            route=route,
            priority=job.priority,
            admit_owner=_admitted(route.queue, job.owner_id),
        )
    return job


def requeue_job(
    session: Session,
    *,
    job_id: uuid.UUID,
    reason: str,
    from_status: str,
    route: Route,
    countdown: float | None = None,
    refund_attempt: bool = False,
    answered_by: tuple[str, str] | None = None,
    claim: Claim | None = None,
) -> Job | None:
    """running -> queued for another attempt (retry or a dead worker), sent again once committed
    (after `countdown` seconds, for a backoff). `refund_attempt`: the attempt never reached the work
    (the LLM server was unreachable), so it does not count."""
    if refund_attempt:
        conditions, counted = (), {"attempts": Job.attempts - 1}
    else:
        conditions, counted = (Job.attempts < Job.max_attempts,), {}
    result = session.execute(
        _transition(
            Job.id == job_id,
            Job.status == from_status,
            *conditions,
            *(claim.conditions() if claim else ()),
            status=JobStatus.queued.value,
            **counted,
            **_RELEASED,
            **_ANSWERED,
        ),
        _answered_params(answered_by),
    )
    job = result.scalar_one_or_none()
    if job is not None:
        _record_event(session, job, "retried", {"reason": reason, "attempts": job.attempts})
        dispatch_job(session, job_id=job.id, route=route, priority=job.priority, countdown=countdown)
    return job


def jobs_to_dispatch(
    session: Session, *, undispatched_for_s: float, redispatch_after_s: float, limit: int
) -> list[Job]:
    """Queued jobs never published (the outbox) or published so long ago the message may be lost."""
    now = func.now()
    result = session.execute(
        select(Job)
        .where(
            Job.status == JobStatus.queued.value,
            Job.held.is_(False),  # held back on purpose (db/admission.py), not lost
            or_(
                and_(
                    Job.dispatched_at.is_(None), Job.created_at < now - timedelta(seconds=undispatched_for_s)
                ),
                Job.dispatched_at < now - timedelta(seconds=redispatch_after_s),
            ),
        )
        .order_by(Job.created_at)
        .limit(limit)
    )
    return list(result.scalars())


def queued_unheld_jobs(session: Session, *, job_ids: list[uuid.UUID]) -> list[Job]:
    """Of these jobs, the ones queued and not held back (the others were claimed, ended or held)."""
    result = session.execute(
        select(Job).where(Job.id.in_(job_ids), Job.status == JobStatus.queued.value, Job.held.is_(False))
    )
    return list(result.scalars())


class QueuedJob(NamedTuple):
    """What sending a queued job's message again needs, without its input (which may be large)."""

    id: uuid.UUID
    kind: str
    stage: str | None
    priority: int


def queued_unheld_published_before(session: Session, *, seconds_ago: float, limit: int) -> list[QueuedJob]:
    """Queued jobs, not held, published more than `seconds_ago` seconds ago, oldest first."""
    query = (
        select(Job.id, Job.kind, Job.stage, Job.priority)
        .where(
            Job.status == JobStatus.queued.value,
            Job.held.is_(False),
            Job.dispatched_at < func.now() - timedelta(seconds=seconds_ago),
        )
        .order_by(Job.dispatched_at)
        .limit(limit)
    )
    return [QueuedJob(*row) for row in session.execute(query)]


def queued_jobs_dispatched_before(session: Session, *, seconds_ago: float | None, limit: int) -> list[Job]:
    """Queued jobs published more than `seconds_ago` seconds ago (None: any published one), oldest
    first: after the broker lost its data, the messages it lost."""
    query = select(Job).where(Job.status == JobStatus.queued.value, Job.dispatched_at.is_not(None))
    if seconds_ago is not None:
        query = query.where(Job.dispatched_at < func.now() - timedelta(seconds=seconds_ago))
    return list(session.execute(query.order_by(Job.dispatched_at).limit(limit)).scalars())


def stale_running_jobs(session: Session, *, stale_after_s: float, limit: int) -> list[Job]:
    """Running jobs whose worker stopped beating (crashed, killed, host gone) or ran past the deadline."""
    now = func.now()
    result = session.execute(
        select(Job)
        .where(
            Job.status == JobStatus.running.value,
            or_(Job.heartbeat_at < now - timedelta(seconds=stale_after_s), Job.deadline_at < now),
        )
        .limit(limit)
    )
    return list(result.scalars())
