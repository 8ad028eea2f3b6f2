"""Resources: suggested documents for a learner's query."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from core.profiles.fields import Level


class ResourcesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=500)
    session_id: uuid.UUID | None = None
    k: int = Field(5, ge=3, le=10, description="how many resources (3 to 10)")
    level: Level | None = Field(None, description="the level to aim at (default: your profile's)")
