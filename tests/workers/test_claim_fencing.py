"""A delivery's writes are fenced by its claim (its attempt at its stage): a worker cut off long
enough for its job to be requeued and claimed again (issue 27: a partitioned GPU host) changes
nothing when its link comes back, and its watcher stops it. On the real PostgreSQL and Redis, the
worker's runtime in this process."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

from sqlalchemy import func, update

from core.jobspec import Route
from db import jobs as job_queries
from db.jobs import Claim
from db.models import Job
from db.unit_of_work import unit_of_work
from tasks.debug_sleep.spec import SPEC as SLEEP
from tasks.debug_sleep.spec import SleepOutput
from tests.support.held_jobs import held_job
from tests.support.stack import Stack
from workers import runtime

STALE, HOLDER = Claim(1, None), Claim(2, None)


def claim(job_id: uuid.UUID, worker: str) -> None:
    with unit_of_work() as session:
        assert job_queries.claim_job(session, job_id=job_id, worker=worker, time_limit_s=60) is not None
        # No worker beats a job the test claimed: without this the stack's reconciler would take it
        # over once its heartbeat is MENTORQ_STALE_AFTER_SECONDS (3 s) old, which a loaded CI run
        # passed between two of the test's statements. The tests take it over themselves.
        session.execute(
            update(Job).where(Job.id == job_id).values(heartbeat_at=func.now() + timedelta(hours=1))
        )


# The requeue sends the job's message as it should; to a queue no worker of the test stack serves,
# so the second claim is the test's own and not a stack worker's.
NOBODYS_QUEUE = Route(SLEEP.task_name, "fencing-test-nobody", SLEEP.soft_time_limit, SLEEP.time_limit)


def taken_over(job_id: uuid.UUID) -> None:
    """What the reconciler does to a job whose worker went silent, then another worker's claim."""
    with unit_of_work() as session:
        requeued = job_queries.requeue_job(
            session, job_id=job_id, reason="worker_lost", from_status="running", route=NOBODYS_QUEUE
        )
        assert requeued is not None
    claim(job_id, "b@gpu2")


def event_types(stack: Stack, job_id: uuid.UUID) -> list[str]:
    return [
        type_ for (type_,) in stack.sql("SELECT type FROM job_events WHERE job_id = %s ORDER BY id", job_id)
    ]


def test_every_write_of_a_taken_over_delivery_is_refused(on_the_stack: Stack) -> None:
    job_id = held_job(on_the_stack, max_attempts=3)
    claim(job_id, "a@gpu1")
    taken_over(job_id)
    done = {"done": True}
    with unit_of_work() as session:
        assert not job_queries.still_held(session, job_id=job_id, claim=STALE)
        assert not job_queries.beat_heart(session, job_id=job_id, claim=STALE)
        assert not job_queries.set_progress(session, job_id=job_id, progress={"stage": "x"}, claim=STALE)
        assert not job_queries.record_output(session, job_id=job_id, delta="late", claim=STALE)
        assert not job_queries.record_event(
            session, job_id=job_id, type_="llm_fallback", data={}, claim=STALE
        )
        assert job_queries.finish_job(session, job_id=job_id, output=done, claim=STALE) is None
        assert (
            job_queries.finish_job(session, job_id=job_id, output=done, streamed="late", claim=STALE) is None
        )
        assert job_queries.fail_job(session, job_id=job_id, code="x", message="late", claim=STALE) is None
        requeue = {"reason": "late", "from_status": "running", "route": NOBODYS_QUEUE}
        assert job_queries.requeue_job(session, job_id=job_id, claim=STALE, **requeue) is None
        handoff = {"stage": "next", "route": NOBODYS_QUEUE, "message": "late"}
        assert job_queries.hand_off_job(session, job_id=job_id, claim=STALE, **handoff) is None
    with unit_of_work() as session:  # the delivery that holds it writes as before
        assert job_queries.still_held(session, job_id=job_id, claim=HOLDER)
        assert job_queries.beat_heart(session, job_id=job_id, claim=HOLDER)
        assert job_queries.finish_job(session, job_id=job_id, output=done, claim=HOLDER) is not None
    assert event_types(on_the_stack, job_id) == ["started", "retried", "started", "succeeded"]
    ((status, output, attempts),) = on_the_stack.sql(
        "SELECT status, output, attempts FROM jobs WHERE id = %s", job_id
    )
    assert (status, output, attempts) == ("succeeded", done, 2)


def test_the_watcher_stops_a_delivery_whose_job_was_taken_over(on_the_stack: Stack) -> None:
    job_id = held_job(on_the_stack, max_attempts=3)
    running, stopped = threading.Event(), threading.Event()

    def body(ctx: runtime.JobContext, payload: object) -> SleepOutput:
        running.set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                ctx.check_canceled()
            except runtime.JobCanceled:
                stopped.set()
                raise
            time.sleep(0.05)
        return SleepOutput(slept_seconds=20, steps=1, attempt=ctx.attempt)

    delivery = threading.Thread(
        target=runtime.run_job, args=(job_id, SLEEP, body), kwargs={"worker": "a@gpu1"}
    )
    delivery.start()
    assert running.wait(10)
    taken_over(job_id)
    delivery.join(30)
    assert stopped.is_set(), "the first delivery ran on after its job was taken over"
    ((status, attempts, worker),) = on_the_stack.sql(
        "SELECT status, attempts, worker FROM jobs WHERE id = %s", job_id
    )
    assert (status, attempts, worker) == ("running", 2, "b@gpu2")  # the second delivery's, untouched
    assert event_types(on_the_stack, job_id) == ["started", "retried", "started"]
