"""Schemas of `debug.sleep`, a kind that exists so faults can be provoked on purpose."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.jobspec import JobSpec


class SleepInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(0.0, ge=0, le=600)
    steps: int = Field(1, ge=1, le=1000)
    # Kill the worker process after this many steps (os._exit), to test crash recovery.
    crash_after_step: int | None = Field(None, ge=0)
    # Crash only on these attempts (1-based); empty means on every attempt.
    crash_on_attempts: list[int] = Field(default_factory=list)
    # On these attempts, have PostgreSQL end the job's database connection mid-job (a transient
    # database failure, as a failover or a deadlock victim sees it).
    lose_database_on_attempts: list[int] = Field(default_factory=list)


class SleepOutput(BaseModel):
    slept_seconds: float
    steps: int
    attempt: int


SPEC = JobSpec(
    name="debug.sleep",
    description="Sleeps in steps, reporting progress; can crash its worker. Tests and smoke checks only.",
    input_model=SleepInput,
    output_model=SleepOutput,
    queue="cpu",
    soft_time_limit=4,
    time_limit=6,
    max_attempts=2,
    debug_only=True,
)
