"""Request and response bodies of the question-answering assistant: ask, answers with their
citations resolved, conversations, instructions and the answer cache."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from api.schemas import WebhookEvent
from core.sql_limits import MAX_BIGINT
from db.instructions import INSTRUCTED_KINDS

InstructedKind = Literal[INSTRUCTED_KINDS]  # type: ignore[valid-type]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Length is checked by the service, so an empty or huge question gets its own stable code.
    question: str = Field(description="up to 2,000 characters")
    collections: list[str] | None = Field(
        None, description="names; default: the shared library and your own collections (not your profile)"
    )
    session_id: uuid.UUID | None = None
    k: int = Field(5, ge=1, le=10, description="passages shown to the model")
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


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=200)


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(description="up to 2,000 characters")


class MessageRead(BaseModel):
    id: int
    role: Literal["user", "assistant"]
    content: str
    grounded: bool | None
    citations: list[ResolvedCitation]
    job_id: uuid.UUID | None
    created_at: datetime


class ConversationRead(BaseModel):
    id: uuid.UUID
    title: str | None
    created_at: datetime
    updated_at: datetime
    messages: list[MessageRead] = Field(default_factory=list)
    pending_job_id: uuid.UUID | None = Field(None, description="the tutor's answer still being written")


class ConversationList(BaseModel):
    items: list[ConversationRead]


class InstructionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=8000)
    note: str | None = Field(None, max_length=500)


class InstructionRead(BaseModel):
    kind: str
    version: int
    text: str
    note: str | None
    active: bool
    created_by: uuid.UUID | None
    created_at: datetime


class LabelMoveRead(BaseModel):
    from_version: int | None
    to_version: int
    moved_by: uuid.UUID | None
    moved_at: datetime


class InstructionHistory(BaseModel):
    kind: str
    active_version: int | None
    versions: list[InstructionRead]
    label_moves: list[LabelMoveRead]


class InstructionKinds(BaseModel):
    items: list[dict[str, Any]] = Field(description="each kind with its active version and newest version")


class ActiveMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=MAX_BIGINT)


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
