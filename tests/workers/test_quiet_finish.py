"""A quick job that sends nothing ends in one autocommit statement: its finish and its last output,
without BEGIN and COMMIT round trips (issue 30), as most claims already are. A job whose ending
writes anything else (a webhook's delivery) still ends in a transaction with it.

On the real PostgreSQL and Redis, the worker's runtime in this process; which kind of transaction
each of the job's writes used is recorded on the test's thread (the watcher thread's heartbeats
are not the job's writes)."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator

import pytest

from tasks.debug_sleep.spec import SPEC as SLEEP
from tasks.debug_sleep.spec import SleepOutput
from tests.support.held_jobs import held_job
from tests.support.stack import Stack
from workers import runtime


def run_recording_transactions(monkeypatch: pytest.MonkeyPatch, job_id: uuid.UUID) -> list[str]:
    used: list[str] = []
    test_thread = threading.current_thread()

    def recording(name: str, real):
        @contextlib.contextmanager
        def transaction() -> Iterator[object]:
            if threading.current_thread() is test_thread:
                used.append(name)
            with real() as session:
                yield session

        return transaction

    monkeypatch.setattr(runtime, "one_statement", recording("autocommit", runtime.one_statement))
    monkeypatch.setattr(runtime, "unit_of_work", recording("transaction", runtime.unit_of_work))

    def body(ctx: runtime.JobContext, payload: object) -> SleepOutput:
        ctx.emit_output("hello")
        return SleepOutput(slept_seconds=0, steps=1, attempt=ctx.attempt)

    runtime.run_job(job_id, SLEEP, body, worker="test@here")
    return used


@pytest.mark.parametrize(
    ("webhook_url", "webhook_events", "expected"),
    [
        (None, None, ["autocommit", "autocommit"]),
        # The claim is quiet (no start webhook); the finish writes the `completed` delivery with it.
        ("https://receiver.example/hook", None, ["autocommit", "transaction"]),
    ],
)
def test_a_quick_job_that_sends_nothing_ends_in_one_autocommit_statement(
    on_the_stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    webhook_url: str | None,
    webhook_events: list[str] | None,
    expected: list[str],
) -> None:
    job_id = held_job(on_the_stack, webhook_url=webhook_url, webhook_events=webhook_events)
    assert run_recording_transactions(monkeypatch, job_id) == expected

    ((status, output),) = on_the_stack.sql("SELECT status, output FROM jobs WHERE id = %s", job_id)
    assert status == "succeeded" and output == {"slept_seconds": 0, "steps": 1, "attempt": 1}
    events = on_the_stack.sql("SELECT type, data FROM job_events WHERE job_id = %s ORDER BY id", job_id)
    assert [type_ for type_, _ in events] == ["started", "output", "succeeded"]
    assert events[1][1] == {"delta": "hello"}  # the last output, written by the finishing statement
    deliveries = on_the_stack.sql("SELECT event_type FROM webhook_deliveries WHERE job_id = %s", job_id)
    assert deliveries == ([("job.succeeded",)] if webhook_url else [])
