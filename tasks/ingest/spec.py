"""The `ingest` kind: parse and chunk one document on a cpu worker (a recording is transcribed on
the transcribe lane first), then embed it on a gpu worker."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core import lanes
from core.jobspec import JobSpec, Stage


class IngestInput(BaseModel):
    """Created by the document endpoints, not submitted directly: the document row holds what to ingest."""

    model_config = ConfigDict(extra="forbid")

    document_id: uuid.UUID


class IngestOutput(BaseModel):
    document_id: uuid.UUID
    format: str | None = None
    title: str | None = None
    chunks: int = 0
    embedding_models: list[str] = Field(default_factory=list)
    # An archive becomes one document per member, each with its own ingest job.
    children: list[dict[str, Any]] = Field(default_factory=list)


SPEC = JobSpec(
    name="ingest",
    description="Parse or transcribe, chunk and embed one document (made by the /v1/documents endpoints).",
    input_model=IngestInput,
    output_model=IngestOutput,
    queue="cpu",
    soft_time_limit=300,
    time_limit=330,
    internal=True,
    later_stages=(
        # A recording's speech to text, on the lane of its own (an hour of audio takes minutes).
        Stage(name="transcribe", queue=lanes.TRANSCRIBE, soft_time_limit=4 * 3600, time_limit=4 * 3600 + 60),
        Stage(name="embed", queue=lanes.EMBED, soft_time_limit=1800, time_limit=1860),
    ),
)
