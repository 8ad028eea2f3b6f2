"""The job lifecycle every kind shares: claim, heartbeat, progress, cancel checks, finish or fail.

`job_task(SPEC)` turns a plain function `body(ctx, payload) -> output model` into the Celery
task of a kind (or of one of its later stages), named, routed and time-limited from its spec.
The body never touches job rows, and never maps errors: a provider's errors become the job's
(`llm_unavailable` retried with backoff, an invalid answer failed with its raw text kept) here,
once, for every kind.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, NoReturn

from celery.exceptions import Reject, SoftTimeLimitExceeded
from opentelemetry.trace import Status, StatusCode
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from core import lanes, logs, tracing
from core.channels import job_channel
from core.jobspec import JobSpec, Route, task_name_of
from core.redaction import scrub
from core.redis_clients import get_broker_redis
from core.settings import get_settings
from db import admission
from db import jobs as job_queries
from db.direct_statement import DirectTransaction
from db.jobs import JobSnapshot
from db.unit_of_work import one_statement, one_transaction, unit_of_work
from workers import current_job, pulse
from workers.celery_app import app
from workers.deadline import job_deadline
from workers.errors import JobCanceled, JobFailure, NextStage
from workers.llm.base import LLMError, LLMInvalidOutput, LLMNotConfigured, LLMUnavailable
from workers.recorder import EventRecorder
from workers.watcher_threads import run_watcher

log = logging.getLogger(__name__)
_SPANS = tracing.tracer()  # the API's no-op tracer until core.tracing.start() sets a provider

CANCEL_POLL_INTERVAL_S = 0.5
RETRY_BACKOFF_CAP_S = 60.0
RAW_TEXT_KEPT = 20_000  # of an invalid LLM answer, in the job's error details
# A message whose claim could not reach the database goes back to the broker after this pause:
# every worker takes it again at once otherwise, a spin for as long as the database is away.
UNCLAIMED_RETURN_PAUSE_S = 2.0


class JobWatcher:
    """Beside the job body, on a thread of its own (a kept one: workers/watcher_threads.py): records
    its progress and output, beats the heartbeat, notices cancellation."""

    def __init__(
        self,
        job_id: uuid.UUID,
        heartbeat_s: float,
        *,
        followed: Callable[[], bool] = lambda: True,
        claim: job_queries.Claim | None = None,
        pulse_has_it: bool = False,
    ):
        self.job_id = job_id
        self.heartbeat_s = heartbeat_s
        self.claim = claim
        self.pulse_has_it = pulse_has_it  # the worker's pulse holds this delivery's registration
        self.canceled = threading.Event()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.recorder = EventRecorder(job_id, wake=self._wake.set, followed=followed, claim=claim)

    def start(self) -> None:
        run_watcher(f"job-watcher-{self.job_id}", self.run)

    def run(self) -> None:
        check_every = min(CANCEL_POLL_INTERVAL_S, self.heartbeat_s)
        last_beat = time.monotonic()
        next_check = last_beat + check_every
        while not self._stop.is_set():
            self._wake.clear()  # before looking, so an append from now on wakes the wait below
            due = self.recorder.seconds_until_due()
            timeout = next_check - time.monotonic()
            if due is not None:
                timeout = min(timeout, due)
            if timeout > 0:
                self._wake.wait(timeout)
                continue
            if due == 0 and not self.recorder.flush(unit_of_work):
                self.canceled.set()
                return
            if time.monotonic() >= next_check:
                beat = time.monotonic() - last_beat >= self.heartbeat_s
                if not self._still_running(beat=beat):
                    self.canceled.set()
                    return
                if beat:
                    last_beat = time.monotonic()
                next_check = time.monotonic() + check_every

    def _still_running(self, *, beat: bool) -> bool:
        # The worker's pulse beats this job from a process of its own (workers/pulse.py), even while
        # the body holds this interpreter; this thread beats only when the pulse has gone quiet, or
        # never had the job (its registration could not be written).
        beat = beat and not (self.pulse_has_it and pulse.beating(self.heartbeat_s))
        try:
            with unit_of_work() as session:
                if beat:
                    return job_queries.beat_heart(session, job_id=self.job_id, claim=self.claim)
                return job_queries.still_held(session, job_id=self.job_id, claim=self.claim)
        except Exception:  # noqa: BLE001 - a DB blip must not kill the job; the next tick retries
            log.warning("heartbeat failed for job %s", self.job_id, exc_info=True)
            return True

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()


class JobContext:
    """What a job body sees: its input, attempt, and calls to report progress and honour cancel."""

    def __init__(
        self,
        *,
        job_id: uuid.UUID,
        kind: JobSpec,
        attempt: int,
        watcher: JobWatcher,
        claim: job_queries.Claim | None = None,
        owner_id: uuid.UUID | None = None,
        created_at: datetime | None = None,
        admitted_lane: bool = False,
    ):
        self.job_id = job_id
        self.kind = kind
        self.attempt = attempt
        self.claim = claim  # every write of this delivery is refused once another holds the job
        self.owner_id = owner_id
        self.created_at = created_at
        # The job holds one of its owner's slots in an admitted lane: ending it frees one.
        self.admitted_lane = admitted_lane
        self._watcher = watcher
        self.recorder = watcher.recorder
        # What the LLM routing sees of this job on its thread (workers/current_job.py).
        self.running = current_job.RunningJob(job_id, kind.name, self.recorder.add_event)

    def check_canceled(self) -> None:
        """Raise JobCanceled if the job was canceled (or taken over); call it between steps."""
        if self._watcher.canceled.is_set():
            raise JobCanceled()

    def progress(self, stage: str, fraction: float | None = None, message: str | None = None) -> None:
        """Report progress (recorded by the watcher thread); throttled, but a new stage always counts."""
        self.check_canceled()
        self.recorder.add_progress(stage, fraction, message)

    def emit_output(self, delta: str) -> None:
        """Stream a piece of output (an LLM token): the first is recorded at once, then every 100 ms."""
        self.check_canceled()
        self.recorder.add_output(delta)


JobBody = Callable[[JobContext, Any], BaseModel]


def as_job_failure(error: Exception) -> JobFailure | None:
    """An error in the platform's terms, or None when it is not one the platform knows (a bug)."""
    if isinstance(error, JobFailure):
        return error
    if isinstance(error, LLMInvalidOutput):
        return JobFailure(error.code, str(error), details={"raw_text": error.raw_text[:RAW_TEXT_KEPT]})
    if isinstance(error, LLMNotConfigured):  # a missing or refused key: retrying cannot help
        return JobFailure(error.code, str(error))
    if isinstance(error, LLMUnavailable):
        return JobFailure(error.code, str(error), retryable=True)
    if isinstance(error, LLMError):  # model_not_found, invalid_schema, llm_error
        return JobFailure(error.code, str(error))
    return None


def run_job(
    job_id: uuid.UUID, kind: JobSpec, body: JobBody, *, worker: str, stage: str | None = None
) -> None:
    """Run one delivery of a job's message. A delivery that loses the claim does nothing."""
    # Every log line of this delivery names its job; its span (under Celery's, whose context came
    # in the message from the request that submitted the job) holds the claim, the body and the end.
    attributes = {
        "mentorq.job.id": str(job_id),
        "mentorq.job.kind": kind.name,
        "mentorq.job.stage": stage or "",
    }
    with (
        logs.bound(job_id=job_id, kind=kind.name),
        _SPANS.start_as_current_span(f"job {kind.name}", attributes=attributes),
    ):
        _run_delivery(job_id, kind, body, worker=worker, stage=stage)


def _run_delivery(
    job_id: uuid.UUID, kind: JobSpec, body: JobBody, *, worker: str, stage: str | None = None
) -> None:
    route = kind.route(stage)
    with _SPANS.start_as_current_span("job.claim") as span:
        try:
            job = _claim(job_id, worker=worker, time_limit_s=route.time_limit, stage=stage)
        except OperationalError as error:
            if not _unreachable(error):
                raise
            _return_unclaimed(job_id)
        span.set_attribute("mentorq.job.attempt", job.attempts if job is not None else 0)
    if job is None:
        log.info("job %s not claimable (duplicate delivery, canceled or finished); skipping", job_id)
        return

    logs.bind(user_id=job.owner_id)
    claim = job_queries.Claim(job.attempts, stage)
    with pulse.running(job_id, attempt=job.attempts, stage=stage) as pulse_has_it:
        _run_claimed(job, kind, body, claim, route=route, stage=stage, pulse_has_it=pulse_has_it)


def _run_claimed(
    job: JobSnapshot,
    kind: JobSpec,
    body: JobBody,
    claim: job_queries.Claim,
    *,
    route: Route,
    stage: str | None,
    pulse_has_it: bool,
) -> None:
    settings = get_settings()
    job_id = job.id
    watcher = JobWatcher(
        job_id,
        settings.heartbeat_seconds,
        followed=lambda: followed_live(job),
        claim=claim,
        pulse_has_it=pulse_has_it,
    )
    watcher.start()
    ctx = JobContext(
        job_id=job_id,
        kind=kind,
        attempt=job.attempts,
        claim=claim,
        watcher=watcher,
        owner_id=job.owner_id,
        created_at=job.created_at,
        admitted_lane=route.queue in lanes.ADMITTED and job.owner_id is not None,
    )
    try:
        payload = kind.input_model.model_validate(job.input)
        # A threads pool (the llm lane) has no Celery time limits: the LLM providers stop at this.
        with (
            job_deadline(route.soft_time_limit),
            current_job.running(ctx.running),
            _SPANS.start_as_current_span("job.body"),
        ):
            output = body(ctx, payload)
        ctx.check_canceled()
        if isinstance(output, NextStage):
            next_stage = output

            def hand_off() -> None:
                with _last_transaction(ctx) as (session, _):
                    job_queries.hand_off_job(
                        session,
                        job_id=job_id,
                        stage=next_stage.stage,
                        route=kind.route(next_stage.stage),
                        message=next_stage.message,
                        answered_by=ctx.running.answered_by,
                        claim=ctx.claim,
                    )

            _once_the_database_answers(ctx, hand_off)
            return
        document = kind.output_model.model_validate(output).model_dump(mode="json", by_alias=True)
        # The output still buffered goes into the finishing statement, unless an output webhook
        # must describe the job as still running (db.jobs.finish_job).
        fold = not (job.webhook_url and "output" in (job.webhook_events or []))
        hands_on = _hands_on_a_slot(ctx, route)
        quiet = fold and not job.webhook_url
        moved: list[JobSnapshot | None] = []

        def finish() -> None:
            moved.clear()
            with (
                _SPANS.start_as_current_span("job.finish"),
                _last_transaction(
                    ctx,
                    keep_output=fold,
                    alone_if_quiet=quiet and not hands_on,
                    hand_on_if_quiet=quiet and hands_on and ctx.claim is not None,
                ) as (session, streamed),
            ):
                if isinstance(session, DirectTransaction):
                    # the finish with the owner's lock, then the owner's next held jobs released:
                    # one transaction in one round trip (db/jobs.py)
                    moved.append(
                        job_queries.finish_and_release(
                            session,
                            job_id=job_id,
                            output=document,
                            claim=ctx.claim,
                            owner_id=ctx.owner_id,
                            route_of=registered_route,
                            answered_by=ctx.running.answered_by,
                            streamed=streamed,
                        )
                    )
                    return
                job_queries.finish_job(
                    session,
                    job_id=job_id,
                    output=document,
                    answered_by=ctx.running.answered_by,
                    streamed=streamed,
                    claim=ctx.claim,
                    # the owner's next held job is sent in this transaction: its lock comes with
                    # the finish rather than in a statement of its own (db/admission.py)
                    lock_owner=hands_on,
                )

        _once_the_database_answers(ctx, finish)
        if moved == [None]:
            # The finish moved nothing (canceled, or taken over) and so took no lock and released
            # nothing: as after a cancel, the owner's next held job is sent in a transaction that
            # locks first.
            _release_held_jobs(ctx)
    except JobCanceled:
        log.info("job %s canceled, or taken over by another delivery, while running; this one stops", job_id)
        _release_held_jobs(ctx)
    except SoftTimeLimitExceeded:
        _fail(ctx, "timeout", f"the job ran past its time limit of {route.soft_time_limit} s")
    except OperationalError as error:
        # A deadlock, a serialization failure, a dropped connection: another attempt may well pass.
        reason = f"{type(error.orig).__name__}: {error.orig}"[:500]
        if job.attempts < job.max_attempts:
            _retry(ctx, stage, f"database_error: {reason}")
        else:
            _fail(ctx, "database_error", reason)
    except ValidationError as error:
        # Input was validated at submit time, so this is our bug or a schema change: say so.
        _fail(ctx, "internal_error", f"job data failed validation: {error.errors(include_url=False)[:3]}")
    except Exception as error:  # noqa: BLE001 - every failure must end the job, never leave it running
        failure = as_job_failure(error)
        if failure is None:
            log.exception("job %s failed unexpectedly", job_id)
            _fail(ctx, "internal_error", f"{type(error).__name__}: {error}"[:1000])
        elif (
            failure.retryable
            and isinstance(error, LLMUnavailable)
            and _job_age_s(ctx) < settings.llm_unavailable_give_up_seconds
        ):
            # The server is down or restarting: no attempt was really made, so none is used up.
            _retry(ctx, stage, f"{failure.code}: {failure.message}", refund=True)
        elif failure.retryable and job.attempts < job.max_attempts:
            _retry(ctx, stage, f"{failure.code}: {failure.message}")
        else:
            _fail(ctx, failure.code, failure.message, failure.details)
    finally:
        watcher.stop()


def _return_unclaimed(job_id: uuid.UUID) -> NoReturn:
    """The database cannot be reached to claim the job: its message goes back to the broker
    (rejected and requeued), not acked away as a failed task's is, which left the job queued with
    no message until the reconciler's redispatch (MENTORQ_REDISPATCH_AFTER_SECONDS, 10 minutes)."""
    log.warning(
        "job %s: cannot reach the database to claim it; its message goes back in %.1f s",
        job_id,
        UNCLAIMED_RETURN_PAUSE_S,
    )
    time.sleep(UNCLAIMED_RETURN_PAUSE_S)
    raise Reject("the database is unreachable", requeue=True)


def _claim(job_id: uuid.UUID, *, worker: str, time_limit_s: float, stage: str | None) -> JobSnapshot | None:
    """The claim in one autocommit round trip (most jobs), or in a transaction with the webhook
    delivery of its `started` event when the job's webhook asks for that (or it was not claimable
    quietly, which the transaction then says)."""
    claim = {"job_id": job_id, "worker": worker, "time_limit_s": time_limit_s, "stage": stage}
    try:
        with one_statement() as session:
            job = job_queries.claim_job(session, unless_start_webhook=True, **claim)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        # The database restarted since this connection's last use (db.session.ping_after_idle):
        # the pool has dropped its connections, and a fresh one claims.
        with one_statement() as session:
            job = job_queries.claim_job(session, unless_start_webhook=True, **claim)
    if job is not None:
        return job
    with unit_of_work() as session:
        return job_queries.claim_job(session, **claim)


def followed_live(job: JobSnapshot) -> bool:
    """Whether someone follows the job's output as it comes: a webhook that asked for output, or a
    subscriber on its live channel (an event stream, the console; a request that only waits for
    the end listens elsewhere, core/channels.py). When Redis cannot say, assume someone does."""
    if job.webhook_url and "output" in (job.webhook_events or []):
        return True
    try:
        return any(count for _, count in get_broker_redis().pubsub_numsub(job_channel(job.id)))
    except Exception:  # noqa: BLE001 - the answer only decides how soon the first token is recorded
        return True


def _once_the_database_answers(ctx: JobContext, write: Callable[[], None]) -> None:
    """Run the delivery's ending `write`, again while PostgreSQL cannot be reached (a restart, a
    cut link), for up to MENTORQ_STALE_AFTER_SECONDS: the work is done, and ending it when the
    database is back beats retrying the job, which would generate it again (the rehearsal's
    PostgreSQL restart, tests/hosts/). Past that the reconciler may have given the job to another
    delivery; the claim then refuses this one's write, which changes nothing. Any other database
    error (a deadlock, a constraint) is raised at once, to the caller's retry or failure."""
    deadline = time.monotonic() + get_settings().stale_after_seconds
    wait_s = 0.5
    while True:
        try:
            write()
            return
        except OperationalError as error:
            if not _unreachable(error) or time.monotonic() + wait_s > deadline:
                raise
            log.warning("job %s: cannot reach the database to end it; again in %.1f s", ctx.job_id, wait_s)
        time.sleep(wait_s)
        wait_s = min(5.0, wait_s * 2)


def _unreachable(error: OperationalError) -> bool:
    """Whether the error says the server could not be reached or the connection broke, as opposed
    to a statement the server refused (psycopg raises its base OperationalError for the first,
    subclasses such as DeadlockDetected for the second)."""
    import psycopg

    return error.connection_invalidated or type(error.orig) is psycopg.OperationalError


@contextlib.contextmanager
def _last_transaction(
    ctx: JobContext,
    *,
    keep_output: bool = False,
    alone_if_quiet: bool = False,
    hand_on_if_quiet: bool = False,
) -> Iterator[tuple[Any, str | None]]:
    """The transaction that ends this delivery of the job, opening with whatever progress and
    output the watcher has not recorded yet (so events stay in order and a fast job pays once).
    A job that held one of its owner's slots in the LLM lane sends the owner's next held job in it.
    The transition in it writes which provider and model answered (`ctx.running.answered_by`).
    Yields the session and, with `keep_output`, the buffered output left for the transition to
    record in its own statement (None when there is none).

    `alone_if_quiet`: the caller's transition writes nothing but its own statement (no webhook
    delivery, no slot to hand on). If nothing but that output is buffered either, the transition
    is the only statement, and it runs in autocommit (db.unit_of_work.one_statement: no BEGIN and
    COMMIT round trips), as most claims do.

    `hand_on_if_quiet`: the same, for a finish that hands its owner's slot on. If nothing but that
    output is buffered, it gets a DirectTransaction (db.unit_of_work.one_transaction) for the
    finish and the release of the owner's next held jobs, sent together (db/jobs.py
    finish_and_release), and this sends no release of its own."""
    with ctx.recorder.final() as record_rest:
        quiet = keep_output and ctx.recorder.nothing_but_output()
        if quiet and alone_if_quiet:
            writer: contextlib.AbstractContextManager[Any] = one_statement()
        elif quiet and hand_on_if_quiet:
            writer = one_transaction()
        else:
            writer = unit_of_work()
        with writer as session:
            streamed = record_rest(session, keep_output)
            yield session, streamed
            if ctx.admitted_lane and isinstance(session, Session):
                admission.release_held(session, owner_id=ctx.owner_id, route_of=registered_route)


def _hands_on_a_slot(ctx: JobContext, route: Route) -> bool:
    """Whether ending this delivery (at `route`, this stage's) may send its owner's next held job:
    it held one of the owner's slots in a capped lane. Without a cap no job is held on submit;
    jobs held under an earlier cap are sent by the reconciler (tasks/platform/reconcile.py), as
    after a crash."""
    return ctx.admitted_lane and admission.may_hold(route.queue)


def _release_held_jobs(ctx: JobContext) -> None:
    """After a cancel (the API ended the job; this delivery has no last transaction of its own)."""
    if not ctx.admitted_lane:
        return
    try:
        with unit_of_work() as session:
            admission.release_held(session, owner_id=ctx.owner_id, route_of=registered_route)
    except Exception:  # noqa: BLE001 - the reconciler releases them too
        log.warning("could not release held jobs of %s", ctx.owner_id, exc_info=True)


def registered_route(kind: str, stage: str | None) -> Route:
    """A kind's stage's route as the task registered it (the worker has no registry of specs)."""
    task = app.tasks[task_name_of(kind, stage)]
    return Route(task.name, task.queue, task.soft_time_limit, task.time_limit)


def _job_age_s(ctx: JobContext) -> float:
    if ctx.created_at is None:
        return 0.0
    return (datetime.now(UTC) - ctx.created_at).total_seconds()


def unavailable_backoff_s(age_s: float) -> float:
    """Waits that grow with the outage (about half the job's age so far), from 2 s up to a minute."""
    return min(RETRY_BACKOFF_CAP_S, max(2.0, age_s / 2))


def _fail(ctx: JobContext, code: str, message: str, details: dict[str, Any] | None = None) -> None:
    # The last net: the message reaches the job's owner (the job, its event stream, the console),
    # whatever exception it was made from, so no URL in it keeps its credentials and no secret shows.
    message = scrub(message)
    with _SPANS.start_as_current_span("job.fail", attributes={"mentorq.job.error": code}) as span:
        span.set_status(Status(StatusCode.ERROR, code))
        _record_failure(ctx, code, message, details)


def _record_failure(ctx: JobContext, code: str, message: str, details: dict[str, Any] | None) -> None:
    with _last_transaction(ctx) as (session, _):
        job_queries.fail_job(
            session,
            job_id=ctx.job_id,
            code=code,
            message=message,
            details=details,
            answered_by=ctx.running.answered_by,
            claim=ctx.claim,
        )


def _retry(ctx: JobContext, stage: str | None, reason: str, *, refund: bool = False) -> None:
    reason = scrub(reason)  # the `retried` event's reason is on the job's event stream too
    delay = unavailable_backoff_s(_job_age_s(ctx)) if refund else min(RETRY_BACKOFF_CAP_S, 2.0**ctx.attempt)
    with _last_transaction(ctx) as (session, _):
        job_queries.requeue_job(
            session,
            job_id=ctx.job_id,
            reason=reason,
            from_status="running",
            route=ctx.kind.route(stage),
            countdown=delay,
            refund_attempt=refund,
            answered_by=ctx.running.answered_by,
            claim=ctx.claim,
        )


def job_task(spec: JobSpec, stage: str | None = None) -> Callable[[JobBody], Any]:
    """Register `body` as the Celery task of a job kind (or of one of its later stages):
    name, queue and time limits come from its spec."""
    route = spec.route(stage)

    def decorator(body: JobBody):
        @app.task(
            name=route.task_name,
            queue=route.queue,
            soft_time_limit=route.soft_time_limit,
            time_limit=route.time_limit,
            acks_late=True,
            reject_on_worker_lost=True,
            ignore_result=True,
            bind=True,
        )
        def task(self, job_id: str) -> None:
            run_job(uuid.UUID(job_id), spec, body, worker=self.request.hostname or "unknown", stage=stage)

        task.body = body
        return task

    return decorator
