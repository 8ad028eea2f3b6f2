"""Schemas of the knowledge kinds: `ingest` (one document) and `reembed` (a batch of chunks)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


class ReembedInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=200)
    chunk_ids: list[int] = Field(min_length=1, max_length=512)


class ReembedOutput(BaseModel):
    model: str
    embedded: int
    skipped: int
