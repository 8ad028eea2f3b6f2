"""The `reembed` kind: embed a batch of chunks under a model (beat schedules it when the model changes)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core import lanes
from core.jobspec import JobSpec


class ReembedInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=200)
    chunk_ids: list[int] = Field(min_length=1, max_length=512)


class ReembedOutput(BaseModel):
    model: str
    embedded: int
    skipped: int


SPEC = JobSpec(
    name="reembed",
    description="Embed a batch of chunks under a model (scheduled by beat when the embedding model changes).",
    input_model=ReembedInput,
    output_model=ReembedOutput,
    queue=lanes.EMBED,
    soft_time_limit=600,
    time_limit=630,
    internal=True,
)
