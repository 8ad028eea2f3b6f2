"""Schemas of `debug.llm`, an LLM call on the `llm` lane with a short time limit: tests and benchmarks
provoke a hung model server with it (tests/test_llm_lane.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core import lanes
from core.jobspec import JobSpec


class DebugLLMInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=10_000)
    stream: bool = False


class DebugLLMOutput(BaseModel):
    text: str


SPEC = JobSpec(
    name="debug.llm",
    description="One LLM call with a 3 s time limit on the llm lane. Tests and benchmarks only.",
    input_model=DebugLLMInput,
    output_model=DebugLLMOutput,
    queue=lanes.LLM,
    soft_time_limit=3,
    time_limit=5,
    max_attempts=1,
    debug_only=True,
)
