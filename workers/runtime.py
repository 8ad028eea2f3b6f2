"""The job lifecycle every task shares: claim, heartbeat, progress, cancel checks, finish or fail.

`job_task(kind)` turns a plain function `body(ctx, payload) -> output model` into a Celery task
named, routed and time-limited from the kind registry. The body never touches job rows.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from pydantic import BaseModel, ValidationError

from db import jobs as job_queries
from db.kinds import KINDS, JobKind
from db.models import Job
from db.session import session_scope
from mentorq.channels import job_channel
from db import webhooks as webhook_queries
from mentorq.dispatch import publish_delivery, publish_job
from mentorq.settings import get_settings
from workers.celery_app import app
from workers.errors import JobCanceled, JobError, NextStage
from workers.redis_client import get_redis

log = logging.getLogger(__name__)

PROGRESS_MIN_INTERVAL_S = 0.5
WEBHOOK_MIN_INTERVAL_S = 0.5  # intermediate webhooks (progress, output): at most one per job per interval
OUTPUT_FLUSH_INTERVAL_S = 0.1  # streamed tokens are coalesced into one recorded event per interval
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
    """Beats the job's heartbeat and notices cancellation while the body runs."""

    def __init__(self, job_id: uuid.UUID, heartbeat_s: float):
        super().__init__(name=f"job-watcher-{job_id}", daemon=True)
        self.job_id = job_id
        self.heartbeat_s = heartbeat_s
        self.canceled = threading.Event()
        self._stop = threading.Event()

    def run(self) -> None:
        last_beat = time.monotonic()
        while not self._stop.wait(min(CANCEL_POLL_INTERVAL_S, self.heartbeat_s)):
            try:
                with session_scope() as session:
                    if time.monotonic() - last_beat >= self.heartbeat_s:
                        still_running = job_queries.beat_heart(session, job_id=self.job_id)
                        last_beat = time.monotonic()
                    else:
                        still_running = job_queries.job_status(session, job_id=self.job_id) == "running"
            except Exception:  # noqa: BLE001 - a DB blip must not kill the job; the next tick retries
                log.warning("heartbeat failed for job %s", self.job_id, exc_info=True)
                continue
            if not still_running:
                self.canceled.set()
                return

    def stop(self) -> None:
        self._stop.set()


class JobContext:
    """What a job body sees: its input, attempt, and calls to report progress and honour cancel."""

    def __init__(self, *, job_id: uuid.UUID, kind: JobKind, attempt: int, watcher: JobWatcher):
        self.job_id = job_id
        self.kind = kind
        self.attempt = attempt
        self._watcher = watcher
        self._last_progress = 0.0
        self._last_stage: str | None = None
        self._last_webhook = 0.0
        self._output_buffer: list[str] = []
        self._last_output_flush = 0.0
        self._output_started = False

    def check_canceled(self) -> None:
        """Raise JobCanceled if the job was canceled (or taken over); call it between steps."""
        if self._watcher.canceled.is_set():
            raise JobCanceled()

    def progress(self, stage: str, fraction: float | None = None, message: str | None = None) -> None:
        """Record progress; throttled, except that a new stage is always recorded."""
        self.check_canceled()
        now = time.monotonic()
        if stage == self._last_stage and now - self._last_progress < PROGRESS_MIN_INTERVAL_S:
            return
        self._last_stage, self._last_progress = stage, now
        progress = {"stage": stage, "fraction": fraction, "message": message}
        with _Transaction() as session:
            if not job_queries.set_progress(
                session, job_id=self.job_id, progress=progress, notify=self._webhook_due(now)
            ):
                self._watcher.canceled.set()
        self.check_canceled()

    def _webhook_due(self, now: float) -> bool:
        if now - self._last_webhook < WEBHOOK_MIN_INTERVAL_S:
            return False
        self._last_webhook = now
        return True

    def emit_output(self, delta: str) -> None:
        """Stream a piece of output (an LLM token): the first at once, then coalesced every 100 ms."""
        self.check_canceled()
        self._output_buffer.append(delta)
        now = time.monotonic()
        if not self._output_started or now - self._last_output_flush >= OUTPUT_FLUSH_INTERVAL_S:
            self._output_started = True
            self.flush_output()

    def flush_output(self) -> None:
        """Record buffered output as one event (published live after commit)."""
        if self._output_buffer:
            with _Transaction() as session:
                self.record_buffered_output(session)
            self.check_canceled()

    def record_buffered_output(self, session) -> None:
        """Add buffered output to the caller's transaction (the last piece goes with the finish)."""
        if not self._output_buffer:
            return
        delta, self._output_buffer = "".join(self._output_buffer), []
        now = time.monotonic()
        self._last_output_flush = now
        if not job_queries.record_output(session, job_id=self.job_id, delta=delta, notify=self._webhook_due(now)):
            self._watcher.canceled.set()


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
            ctx.flush_output()
            _hand_off(job_id, kind, output, job.priority)
            return
        document = kind.output_model.model_validate(output).model_dump(mode="json", by_alias=True)
        with _Transaction() as session:
            ctx.record_buffered_output(session)  # one transaction: the last tokens and the result
            job_queries.finish_job(session, job_id=job_id, output=document)
    except JobCanceled:
        log.info("job %s canceled while running", job_id)
    except SoftTimeLimitExceeded:
        _fail(job_id, "timeout", f"the job ran past its time limit of {route.soft_time_limit} s")
    except JobError as error:
        if error.retryable and job.attempts < job.max_attempts:
            _retry(job_id, kind, stage, job.attempts, job.priority, f"{error.code}: {error.message}")
        else:
            _fail(job_id, error.code, error.message, error.details)
    except ValidationError as error:
        # Input was validated at submit time, so this is our bug or a schema change: say so.
        _fail(job_id, "internal_error", f"job data failed validation: {error.errors(include_url=False)[:3]}")
    except Exception as error:  # noqa: BLE001 - every failure must end the job, never leave it running
        log.exception("job %s failed unexpectedly", job_id)
        _fail(job_id, "internal_error", f"{type(error).__name__}: {error}"[:1000])
    finally:
        watcher.stop()


def _fail(job_id: uuid.UUID, code: str, message: str, details: dict[str, Any] | None = None) -> None:
    with _Transaction() as session:
        job_queries.fail_job(session, job_id=job_id, code=code, message=message, details=details)


def _retry(job_id: uuid.UUID, kind: JobKind, stage: str | None, attempts: int, priority: int, reason: str) -> None:
    with _Transaction() as session:
        requeued = job_queries.requeue_job(session, job_id=job_id, reason=reason, from_status="running")
    if requeued is None:
        return
    delay = min(RETRY_BACKOFF_CAP_S, 2.0 ** attempts)
    _publish(job_id, kind, stage, priority, countdown=delay)


def _hand_off(job_id: uuid.UUID, kind: JobKind, next_stage: NextStage, priority: int) -> None:
    route = kind.route(next_stage.stage)
    with _Transaction() as session:
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
