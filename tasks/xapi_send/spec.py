"""Schemas of `xapi.send`: statements from the outbox (db/xapi.py) to the Learning Record Store.
Made with the event they report, never through POST /v1/jobs; one job sends every unsent
statement it can claim, in batches, so a burst of events costs a few requests."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from core import lanes
from core.jobspec import JobSpec


class SendInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The statements whose event made the job (it sends them and any others waiting).
    statement_ids: list[uuid.UUID] = Field(max_length=50)


class SendOutput(BaseModel):
    sent: int
    refused: int = Field(description="statements the LRS refused (400/409), kept with its reason")


SPEC = JobSpec(
    name="xapi.send",
    description="Send recorded xAPI statements to the Learning Record Store; made by the events.",
    input_model=SendInput,
    output_model=SendOutput,
    queue=lanes.IO,
    soft_time_limit=120,
    time_limit=150,
    # 2, 4, ... 2^9 s: an LRS down for a quarter of an hour still gets every statement.
    max_attempts=10,
    internal=True,
)
