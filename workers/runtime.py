"""The job lifecycle every task shares: claim, heartbeat, progress, cancel checks, finish or fail.

`job_task(kind)` turns a plain function `body(ctx, payload) -> output model` into a Celery task
named, routed and time-limited from the kind registry. The body never touches job rows.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import OperationalError

from db import jobs as job_queries
from db import webhooks as webhook_queries
from db.kinds import KINDS, JobKind
from db.models import Job
from db.session import session_scope
from core.channels import job_channel
from core.broker import publish_delivery, publish_job
from core.settings import get_settings
from workers.celery_app import app
from workers.errors import JobCanceled, JobError, NextStage
from workers.recorder import EventRecorder
from core.redis_clients import get_redis

log = logging.getLogger(__name__)

CANCEL_POLL_INTERVAL_S = 0.5
RETRY_BACKOFF_CAP_S = 60.0


def publish_committed_events(session) -> None:
    """After a commit: publish its job events live and send its webhook messages (both best effort)."""
    pending = job_queries.take_pending_events(session)
    if pending:
        try:
            pipe = get_redis().pipeline(transaction=False)
            for event, job in pending:
                pipe.publish(job_channel(job.id), json.dumps(job_queries.event_message(event, job)))
            pipe.execute()
        except Exception:  # noqa: BLE001 - live events are a convenience; the rows are the record
            log.warning("could not publish live events", exc_info=True)
    deliveries = job_queries.take_pending_deliveries(session)
    if deliveries:
        send_deliveries(deliveries)


def send_committed_jobs(session, job_ids: list[uuid.UUID]) -> None:
    """After the commit that created jobs (an archive's members): publish events, then the jobs."""
    publish_committed_events(session)
    with session_scope() as reader:
        jobs = [reader.get(Job, job_id) for job_id in job_ids]
    for job in jobs:
        if job is not None:
            _publish(job.id, KINDS[job.kind], job.stage, job.priority)


def send_deliveries(delivery_ids: list[uuid.UUID]) -> None:
    """Queue webhook deliveries; one the broker misses is sent by the reconciler (it stays pending)."""
    sent = []
    for delivery_id in delivery_ids:
        try:
            publish_delivery(app, delivery_id=delivery_id)
        except Exception:  # noqa: BLE001
            log.warning("could not queue webhook delivery %s", delivery_id, exc_info=True)
            break
        sent.append(delivery_id)
    if sent:
        with session_scope() as session:
            webhook_queries.mark_deliveries_dispatched(session, delivery_ids=sent)


class _Transaction:
    """session_scope() that publishes the transaction's job events after it committed."""

    def __enter__(self):
        self._scope = session_scope()
        self.session = self._scope.__enter__()
        return self.session

    def __exit__(self, exc_type, exc, tb):
        result = self._scope.__exit__(exc_type, exc, tb)
        if exc_type is None:
            publish_committed_events(self.session)
        return result


class JobWatcher(threading.Thread):
    """Beside the job body: records its progress and output, beats the heartbeat, notices cancellation."""

    def __init__(self, job_id: uuid.UUID, heartbeat_s: float):
        super().__init__(name=f"job-watcher-{job_id}", daemon=True)
        self.job_id = job_id
        self.heartbeat_s = heartbeat_s
        self.canceled = threading.Event()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.recorder = EventRecorder(job_id, wake=self._wake.set)

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
            if due == 0 and not self.recorder.flush(_Transaction):
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
        try:
            with session_scope() as session:
                if beat:
                    return job_queries.beat_heart(session, job_id=self.job_id)
                return job_queries.job_status(session, job_id=self.job_id) == "running"
        except Exception:  # noqa: BLE001 - a DB blip must not kill the job; the next tick retries
            log.warning("heartbeat failed for job %s", self.job_id, exc_info=True)
            return True

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()


class JobContext:
    """What a job body sees: its input, attempt, and calls to report progress and honour cancel."""

    def __init__(self, *, job_id: uuid.UUID, kind: JobKind, attempt: int, watcher: JobWatcher):
        self.job_id = job_id
        self.kind = kind
        self.attempt = attempt
        self._watcher = watcher
        self.recorder = watcher.recorder

    def check_canceled(self) -> None:
        """Raise JobCanceled if the job was canceled (or taken over); call it between steps."""
        if self._watcher.canceled.is_set():
            raise JobCanceled()

    def progress(self, stage: str, fraction: float | None = None, message: str | None = None) -> None:
        """Report progress (recorded by the watcher thread); throttled, but a new stage always counts."""
        self.check_canceled()
        self.recorder.add_progress(stage, fraction, message)

    def emit_output(self, delta: str) -> None:
        """Stream a piece of output (an LLM token): the first is recorded at once, then coalesced every 100 ms."""
        self.check_canceled()
        self.recorder.add_output(delta)


JobBody = Callable[[JobContext, Any], BaseModel]


def run_job(job_id: uuid.UUID, kind: JobKind, body: JobBody, *, worker: str, stage: str | None = None) -> None:
    """Run one delivery of a job's message. A delivery that loses the claim does nothing."""
    settings = get_settings()
    route = kind.route(stage)
    with _Transaction() as session:
        job = job_queries.claim_job(
            session, job_id=job_id, worker=worker, time_limit_s=route.time_limit, stage=stage
        )
    if job is None:
        log.info("job %s not claimable (duplicate delivery, canceled or finished); skipping", job_id)
        return

    watcher = JobWatcher(job_id, settings.heartbeat_seconds)
    watcher.start()
    ctx = JobContext(job_id=job_id, kind=kind, attempt=job.attempts, watcher=watcher)
    try:
        payload = kind.input_model.model_validate(job.input)
        output = body(ctx, payload)
        ctx.check_canceled()
        if isinstance(output, NextStage):
            _hand_off(ctx, kind, output, job.priority)
            return
        document = kind.output_model.model_validate(output).model_dump(mode="json", by_alias=True)
        with _last_transaction(ctx) as session:
            job_queries.finish_job(session, job_id=job_id, output=document)
    except JobCanceled:
        log.info("job %s canceled while running", job_id)
    except SoftTimeLimitExceeded:
        _fail(ctx, "timeout", f"the job ran past its time limit of {route.soft_time_limit} s")
    except JobError as error:
        if error.retryable and job.attempts < job.max_attempts:
            _retry(ctx, stage, job.priority, f"{error.code}: {error.message}")
        else:
            _fail(ctx, error.code, error.message, error.details)
    except OperationalError as error:
        # A deadlock, a serialization failure, a dropped connection: another attempt may well pass.
        reason = f"{type(error.orig).__name__}: {error.orig}"[:500]
        if job.attempts < job.max_attempts:
            _retry(ctx, stage, job.priority, f"database_error: {reason}")
        else:
            _fail(ctx, "database_error", reason)
    except ValidationError as error:
        # Input was validated at submit time, so this is our bug or a schema change: say so.
        _fail(ctx, "internal_error", f"job data failed validation: {error.errors(include_url=False)[:3]}")
    except Exception as error:  # noqa: BLE001 - every failure must end the job, never leave it running
        log.exception("job %s failed unexpectedly", job_id)
        _fail(ctx, "internal_error", f"{type(error).__name__}: {error}"[:1000])
    finally:
        watcher.stop()


@contextlib.contextmanager
def _last_transaction(ctx: JobContext) -> Iterator[Any]:
    """The transaction that ends this delivery of the job, opening with whatever progress and
    output the watcher has not recorded yet (so events stay in order and a fast job pays once)."""
    with ctx.recorder.final() as record_rest, _Transaction() as session:
        record_rest(session)
        yield session


def _fail(ctx: JobContext, code: str, message: str, details: dict[str, Any] | None = None) -> None:
    with _last_transaction(ctx) as session:
        job_queries.fail_job(session, job_id=ctx.job_id, code=code, message=message, details=details)


def _retry(ctx: JobContext, stage: str | None, priority: int, reason: str) -> None:
    job_id, kind, attempts = ctx.job_id, ctx.kind, ctx.attempt
    with _last_transaction(ctx) as session:
        requeued = job_queries.requeue_job(session, job_id=job_id, reason=reason, from_status="running")
    if requeued is None:
        return
    delay = min(RETRY_BACKOFF_CAP_S, 2.0 ** attempts)
    _publish(job_id, kind, stage, priority, countdown=delay)


def _hand_off(ctx: JobContext, kind: JobKind, next_stage: NextStage, priority: int) -> None:
    job_id = ctx.job_id
    route = kind.route(next_stage.stage)
    with _last_transaction(ctx) as session:
        handed = job_queries.hand_off_job(
            session, job_id=job_id, stage=next_stage.stage, queue=route.queue, message=next_stage.message
        )
    if handed is not None:
        _publish(job_id, kind, next_stage.stage, priority)


def _publish(job_id: uuid.UUID, kind: JobKind, stage: str | None, priority: int, countdown: float | None = None) -> None:
    try:
        publish_job(app, job_id=job_id, kind=kind.name, stage=stage, priority=priority, countdown=countdown)
    except Exception:  # noqa: BLE001 - the job is queued in PostgreSQL; the reconciler publishes it
        log.warning("could not publish job %s; the reconciler will", job_id, exc_info=True)
        return
    with session_scope() as session:
        job_queries.mark_dispatched(session, job_id=job_id)


def job_task(kind_name: str, stage: str | None = None) -> Callable[[JobBody], Any]:
    """Register `body` as the Celery task of a job kind (or of one of its later stages):
    name, queue and time limits come from the registry."""
    kind = KINDS[kind_name]
    route = kind.route(stage)

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
            run_job(uuid.UUID(job_id), kind, body, worker=self.request.hostname or "unknown", stage=stage)

        task.body = body
        return task

    return decorator
