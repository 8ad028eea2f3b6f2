"""Schemas of `debug.native`, one native call that holds the GIL: the body a watcher thread cannot
interrupt (a recognizer's decode, a long regex), so tests can show a slow job is not a dead one."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.jobspec import JobSpec


class NativeInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: int = Field(1, ge=0, le=60)


class NativeOutput(BaseModel):
    held_gil_seconds: int
    attempt: int


SPEC = JobSpec(
    name="debug.native",
    description="Holds the GIL in one native call for `seconds`. Tests and smoke checks only.",
    input_model=NativeInput,
    output_model=NativeOutput,
    queue="cpu",
    soft_time_limit=70,
    time_limit=80,
    max_attempts=3,
    debug_only=True,
)
