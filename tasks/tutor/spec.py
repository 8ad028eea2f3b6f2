"""The `tutor` kind: a reply in a tutor conversation, grounded like `ask` (the same checks) and
aware of the conversation's recent turns and the learner's profile. Never cached: it depends on
the conversation."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from core import lanes
from core.jobspec import JobSpec
from tasks.ask.spec import CheckedAnswer


class TutorInput(BaseModel):
    """Created by POST /api/conversations/{id}/messages."""

    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID
    conversation_id: uuid.UUID
    message_id: int
    collection_ids: list[uuid.UUID]
    k: int = Field(4, ge=1, le=10)


class TutorOutput(CheckedAnswer):
    conversation_id: uuid.UUID
    reply_message_id: int
    turns_seen: int = Field(description="earlier turns given in full")
    turns_summarised: int = Field(description="older turns given as a summary")


SPEC = JobSpec(
    name="tutor",
    instructed=True,
    description="Reply in a tutor conversation, from the library, citations checked (/api/conversations).",
    input_model=TutorInput,
    output_model=TutorOutput,
    queue=lanes.LLM,
    soft_time_limit=300,
    time_limit=330,
    internal=True,
)
