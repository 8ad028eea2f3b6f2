"""Search: semantic search over the collections a caller can read."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.documents.schemas import ResourceType
from core.recordings import SpeakerName


class SearchFiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(default_factory=list, max_length=16)
    type: list[ResourceType] = Field(default_factory=list)
    document: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    speakers: list[SpeakerName] = Field(
        default_factory=list,
        max_length=16,
        description="a recording's speakers, as its transcript names them (S1, or a name): passages "
        "where one of them speaks",
    )


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000)
    collections: list[str] | None = Field(None, description="names; default: every collection you can read")
    k: int = Field(10, ge=1, le=50)
    mode: Literal["hybrid", "vector", "keyword"] = "hybrid"
    filters: SearchFiltersIn = Field(default_factory=SearchFiltersIn)


class SearchHit(BaseModel):
    chunk_id: int
    score: float
    vector_rank: int | None
    keyword_rank: int | None
    vector_distance: float | None
    text: str
    position: int
    heading_path: list[str]
    start_s: float | None
    end_s: float | None
    page: int | None
    speakers: list[str] = Field(description="who speaks in the passage (a transcript's), in order")
    document_id: uuid.UUID
    document_title: str | None
    source_url: str | None
    collection: str
    tags: list[str]
    resource_type: str | None
    level: str | None


class SearchResponse(BaseModel):
    query: str
    mode: str
    model: str | None
    items: list[SearchHit]
    timings_ms: dict[str, float]
