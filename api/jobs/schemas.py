"""Request and response bodies of the job API (tables live in db.models)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from core.job_status import JobStatus

WebhookEvent = Literal["start", "progress", "output", "completed"]


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=64, examples=["chat"])
    input: dict[str, Any] = Field(examples=[{"prompt": "Explain recursion to a 12-year-old."}])
    webhook: AnyHttpUrl | None = None
    webhook_events_filter: list[WebhookEvent] | None = Field(None, min_length=1)
    priority: int = Field(0, ge=0, le=9)


class ErrorRead(BaseModel):
    """What went wrong: a stable machine `code`, a human `message`, and details for some codes."""

    code: str
    message: str
    details: dict[str, Any] | None = None


class JobProgress(BaseModel):
    stage: str
    fraction: float | None = None
    message: str | None = None


class JobMetrics(BaseModel):
    queue_ms: int | None = Field(None, description="created -> started (of the last attempt)")
    run_ms: int | None = Field(None, description="started -> completed")


class JobUrls(BaseModel):
    get: str
    cancel: str
    events: str
    deliveries: str


class JobLLMRead(BaseModel):
    provider: str = Field(description="ollama, local, openai_compatible or anthropic")
    model: str | None


class JobRead(BaseModel):
    id: uuid.UUID
    kind: str
    status: JobStatus
    input: dict[str, Any]
    output: dict[str, Any] | None
    error: ErrorRead | None
    progress: JobProgress | None
    session_id: uuid.UUID | None = None
    instructions_version: int | None = Field(
        None, description="the version of the kind's instructions the job ran with (/v1/admin/instructions)"
    )
    llm: JobLLMRead | None = Field(
        None, description="the provider and model that answered the job's LLM call; null until one did"
    )
    attempts: int
    max_attempts: int
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    metrics: JobMetrics
    urls: JobUrls


class JobList(BaseModel):
    items: list[JobRead]
    next_cursor: str | None = None
