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


class ProblemField(BaseModel):
    path: str = Field(description="where in the request, e.g. `input.messages[0].role` or `query.kind`")
    message: str


class Problem(BaseModel):
    """Every error: RFC 9457 problem details with a stable machine `code` (application/problem+json)."""

    type: str
    title: str
    status: int
    code: str = Field(description="stable and machine-readable; the README lists them all")
    detail: str
    instance: str | None = None
    errors: list[ProblemField] | None = None


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


class KindRead(BaseModel):
    name: str
    description: str
    queue: str
    max_attempts: int
    time_limit_s: int
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


class KindList(BaseModel):
    items: list[KindRead]


ResourceType = Literal["paper", "tutorial", "course", "video"]
Level = Literal["beginner", "intermediate", "advanced"]


class DocumentMeta(BaseModel):
    """What a client may say about a document it submits."""

    model_config = ConfigDict(extra="forbid")

    collection: str = Field("default", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    title: str | None = Field(None, max_length=500)
    tags: list[str] = Field(default_factory=list, max_length=32)
    resource_type: ResourceType | None = None
    level: Level | None = None


class DocumentFromUrl(DocumentMeta):
    url: AnyHttpUrl


class DocumentFromText(DocumentMeta):
    title: str = Field(min_length=1, max_length=500)
    text: str = Field(min_length=1)
    format: Literal["text", "markdown", "html"] = "markdown"


class ChunkRead(BaseModel):
    id: int
    position: int
    text: str
    heading_path: list[str]
    start_s: float | None
    end_s: float | None
    page: int | None
    token_count: int


class DocumentRead(BaseModel):
    id: uuid.UUID
    collection: str
    shared: bool
    title: str | None
    source_url: str | None
    filename: str | None
    format: str | None
    tags: list[str]
    resource_type: str | None
    level: str | None
    status: Literal["pending", "processing", "ready", "failed"]
    error: dict[str, Any] | None
    chunk_count: int
    byte_size: int | None
    content_hash: str | None
    parent_id: uuid.UUID | None
    ingest_job_id: uuid.UUID | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    chunks: list[ChunkRead] | None = None


class SubmittedDocument(BaseModel):
    """One item of a submission: the document and its ingest job, or why it was refused."""

    filename: str | None = None
    action: Literal["created", "replaced", "unchanged", "rejected"]
    document: DocumentRead | None = None
    job: JobRead | None = None
    error: ErrorRead | None = None


class SubmittedDocuments(BaseModel):
    items: list[SubmittedDocument]


class DocumentList(BaseModel):
    items: list[DocumentRead]
    next_cursor: str | None = None


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str | None = Field(None, max_length=2000)
    shared: bool = Field(False, description="a shared library every user reads; admins only")


class CollectionRead(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    shared: bool
    writable: bool
    created_at: datetime


class CollectionList(BaseModel):
    items: list[CollectionRead]


class SearchFiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(default_factory=list, max_length=16)
    type: list[ResourceType] = Field(default_factory=list)
    document: list[uuid.UUID] = Field(default_factory=list, max_length=100)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000)
    collections: list[str] | None = Field(None, description="names; default: every collection you can read")
    k: int = Field(10, ge=1, le=50)
    mode: Literal["hybrid", "vector", "keyword"] = "hybrid"
    filters: SearchFiltersIn = Field(default_factory=SearchFiltersIn)


class SearchHit(BaseModel):
    chunk_id: int
    score: float
    vector_rank: int | None
    keyword_rank: int | None
    vector_distance: float | None
    text: str
    position: int
    heading_path: list[str]
    start_s: float | None
    end_s: float | None
    page: int | None
    document_id: uuid.UUID
    document_title: str | None
    source_url: str | None
    collection: str
    tags: list[str]
    resource_type: str | None
    level: str | None


class SearchResponse(BaseModel):
    query: str
    mode: str
    model: str | None
    items: list[SearchHit]
    timings_ms: dict[str, float]
