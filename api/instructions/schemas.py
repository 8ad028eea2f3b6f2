"""Instructions: versioned system prompts per kind, the label `active`; the Instructions page."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.sql_limits import MAX_INTEGER
from tasks.registry import instructed_kinds

InstructedKind = Literal[instructed_kinds()]  # type: ignore[valid-type]


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

    version: int = Field(ge=1, le=MAX_INTEGER)
