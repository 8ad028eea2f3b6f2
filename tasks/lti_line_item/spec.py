"""Schemas of `lti.line_item`: a gradebook column (an AGS line item) for an exercise placed in a
course as a plain link, made at the course's platform. Made by an instructor's or an admin's
POST /v1/lti/courses/{id}/line-items, never through POST /v1/jobs."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from core import lanes
from core.jobspec import JobSpec


class LineItemInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    context_id: uuid.UUID  # lti_contexts.id
    exercise_id: uuid.UUID
    label: str = Field(min_length=1, max_length=200)


class LineItemOutput(BaseModel):
    context_id: uuid.UUID
    exercise_id: uuid.UUID
    lineitem_url: str
    created: bool = Field(description="false: the platform had mentorq's column for it already")


SPEC = JobSpec(
    name="lti.line_item",
    description="Make a gradebook column at the course's LMS for an exercise (LTI AGS line item).",
    input_model=LineItemInput,
    output_model=LineItemOutput,
    queue=lanes.IO,
    soft_time_limit=60,
    time_limit=90,
    max_attempts=6,
    internal=True,
)
