"""The `resources` kind: what to study for a query, picked by the model from the documents the
search returned, explained, personalised, and checked in code."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from core import lanes
from core.jobspec import JobSpec
from core.profiles.fields import Level


class ResourcesInput(BaseModel):
    """Created by POST /api/learning/resources."""

    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID
    query: str = Field(min_length=1, max_length=500)
    k: int = Field(5, ge=3, le=10)
    level: Level | None = None


class Pick(BaseModel):
    document_id: str = Field(description="a document id copied from the library list")
    level: Level | None = None
    # Empty is tolerated (a small model leaves it blank): the slot is then explained by code.
    why: str = Field("", max_length=600, description="one or two sentences for this learner")
    cited_chunk_ids: list[int] = Field(default_factory=list, max_length=5)


class ResourcePicks(BaseModel):
    """What the model is asked for."""

    resources: list[Pick] = Field(default_factory=list, max_length=20)


class Resource(BaseModel):
    document_id: uuid.UUID
    title: str
    url: str | None
    resource_type: str
    level: Level | None
    why: str
    cited_chunk_ids: list[int]
    # False when the slot was filled by code (the model repeated a document or picked too few).
    explained_by_model: bool


class ResourcesOutput(BaseModel):
    query: str
    resources: list[Resource]
    # Set when the library holds fewer relevant documents than asked for (or than 3).
    shortfall: str | None
    dropped_invented: int = Field(description="picks of documents the search did not return")
    dropped_citations: int = Field(description="cited chunks not in the picked document's retrieved chunks")
    duplicates_replaced: int
    relevant_documents: int
    personalised_by: dict
    model: str | None


SPEC = JobSpec(
    name="resources",
    instructed=True,
    description="Suggest and explain library resources for a query (/api/learning/resources).",
    input_model=ResourcesInput,
    output_model=ResourcesOutput,
    queue=lanes.LLM,
    soft_time_limit=300,
    time_limit=330,
    internal=True,
)
