"""Schemas of `lti.score`: one graded submission's score sent to the platform's line item
(LTI Assignment and Grade Services 2.0). Made by the grading itself (db/lti.queue_score), never
through POST /v1/jobs; one per submission, its payload fixed when it is made."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from core import lanes
from core.jobspec import JobSpec


class ScoreInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    submission_id: uuid.UUID
    platform_id: uuid.UUID
    lineitem_url: str = Field(max_length=2000)
    user_id: str = Field(max_length=255, description="the learner's id at the platform (the launch's sub)")
    score_given: float = Field(ge=0)
    score_maximum: float = Field(gt=0)
    # When the grade was recorded: sent as the score's timestamp, the same on every attempt, so a
    # platform that got it once keeps it (AGS: a score older than the one on record is not applied).
    timestamp: datetime


class ScoreOutput(BaseModel):
    submission_id: uuid.UUID
    lineitem_url: str
    status_code: int


SPEC = JobSpec(
    name="lti.score",
    description="Send a graded submission's score to its LMS gradebook (LTI AGS); made by grading.",
    input_model=ScoreInput,
    output_model=ScoreOutput,
    queue=lanes.IO,
    soft_time_limit=60,
    time_limit=90,
    # 2, 4, ... 2^9 s (the runtime's backoff, capped): a platform down for a quarter of an hour
    # still gets the score, once it is back.
    max_attempts=10,
    internal=True,
)
