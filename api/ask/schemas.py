"""Ask: grounded questions over the library, the answer cache and its admin view."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from api.jobs.schemas import WebhookEvent
from core.recordings import SpeakerName


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Length is checked by the service, so an empty or huge question gets its own stable code.
    question: str = Field(description="up to 2,000 characters")
    collections: list[str] | None = Field(
        None, description="names; default: the shared library and your own collections (not your profile)"
    )
    session_id: uuid.UUID | None = None
    k: int = Field(5, ge=1, le=10, description="passages shown to the model")
    speakers: list[SpeakerName] = Field(
        default_factory=list,
        max_length=16,
        description="answer only from passages where one of these speaks (a recording's S1, or a name)",
    )
    webhook: AnyHttpUrl | None = None
    webhook_events_filter: list[WebhookEvent] | None = Field(None, min_length=1)


class ResolvedCitation(BaseModel):
    """A stored citation, looked up again now: `current` (the chunk is still searchable), `moved`
    (the document was re-ingested and a chunk of it still holds the quote: `chunk_id` is the new
    one, `original_chunk_id` the cited one) or `removed`."""

    status: Literal["current", "moved", "removed"]
    original_chunk_id: int | None = None
    citation: dict[str, Any]


class AnswerRead(BaseModel):
    job_id: uuid.UUID
    status: str
    question: str
    answer: str | None
    grounded: bool | None
    cached: bool | None
    citations: list[ResolvedCitation]


class CacheEntryRead(BaseModel):
    id: int
    question: str
    private: bool
    collections: int
    instructions_version: int | None
    model: str
    job_id: uuid.UUID
    hits: int
    created_at: datetime
    expires_at: datetime


class CacheRead(BaseModel):
    entries: int
    window_hours: int
    hits: int
    misses: int
    hit_ratio: float | None
    items: list[CacheEntryRead]
    next_cursor: int | None


class CachePurged(BaseModel):
    purged: int
