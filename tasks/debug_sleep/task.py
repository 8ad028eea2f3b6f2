"""`debug.sleep`: sleeps in steps and can kill its own worker, so tests can provoke faults for real."""

from __future__ import annotations

import os
import time

from sqlalchemy import text

from db.unit_of_work import unit_of_work
from tasks.debug_sleep.spec import SPEC, SleepInput, SleepOutput
from workers.runtime import JobContext, job_task


@job_task(SPEC)
def sleep(ctx: JobContext, payload: SleepInput) -> SleepOutput:
    """Sleep `seconds` in `steps`, reporting progress and honouring cancel between steps."""
    step_s = payload.seconds / payload.steps
    if ctx.attempt in payload.lose_database_on_attempts:
        with unit_of_work() as session:  # the server ends this very connection: OperationalError
            session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
    for step in range(payload.steps):
        crashes_now = payload.crash_after_step == step and (
            not payload.crash_on_attempts or ctx.attempt in payload.crash_on_attempts
        )
        if crashes_now:
            os._exit(137)  # like the OOM killer: no cleanup, no ack
        ctx.progress("sleeping", step / payload.steps, f"step {step + 1} of {payload.steps}")
        time.sleep(step_s)
    return SleepOutput(slept_seconds=payload.seconds, steps=payload.steps, attempt=ctx.attempt)
