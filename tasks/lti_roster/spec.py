"""Schemas of `lti.roster`: a course's members read from its platform (LTI Names and Role
Provisioning Services 2.0), every page, and kept as the course's roster. Made by an instructor's
or an admin's POST /v1/lti/contexts/{id}/roster, never through POST /v1/jobs."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict

from core import lanes
from core.jobspec import JobSpec


class RosterInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    context_id: uuid.UUID  # lti_contexts.id


class RosterOutput(BaseModel):
    context_id: uuid.UUID
    members: int
    active: int
    pages: int


SPEC = JobSpec(
    name="lti.roster",
    description="Read a course's roster from its LMS (LTI NRPS), every page; made by a roster sync.",
    input_model=RosterInput,
    output_model=RosterOutput,
    queue=lanes.IO,
    soft_time_limit=300,
    time_limit=330,
    max_attempts=5,
    internal=True,
)
