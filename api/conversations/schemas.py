"""Conversations: multi-turn, grounded chat."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.ask.schemas import ResolvedCitation


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
