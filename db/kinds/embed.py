"""Schemas of the `embed` kind: normalized embeddings of a batch of texts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EmbedInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1, max_length=256)
    model: str | None = Field(None, max_length=200)


class EmbedOutput(BaseModel):
    model: str
    dim: int
    vectors: list[list[float]]
