"""The `embed` kind: normalized embeddings of a batch of texts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core import lanes
from core.jobspec import JobSpec


class EmbedInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1, max_length=256)
    model: str | None = Field(None, max_length=200)


class EmbedOutput(BaseModel):
    model: str
    dim: int
    vectors: list[list[float]]


SPEC = JobSpec(
    name="embed",
    description="Normalized embeddings of 1 to 256 texts.",
    input_model=EmbedInput,
    output_model=EmbedOutput,
    queue=lanes.EMBED,
    soft_time_limit=120,
    time_limit=150,
)
