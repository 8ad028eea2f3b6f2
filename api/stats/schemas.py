"""The body of GET /v1/admin/stats."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Percentiles(BaseModel):
    p50: float | None = Field(description="ms; null when no job in the window got this far")
    p95: float | None


class KindStats(BaseModel):
    jobs: int
    by_status: dict[str, int]
    queue_ms: Percentiles = Field(description="from creation to the (latest) start")
    run_ms: Percentiles = Field(description="from that start to completion")


class CacheStats(BaseModel):
    hits: int = Field(description="succeeded ask jobs answered from the answer cache")
    misses: int
    hit_ratio: float | None


class WebhookStats(BaseModel):
    by_status: dict[str, int]
    success_rate: float | None = Field(
        description="succeeded / (succeeded + failed + disabled); deliveries still pending are not counted"
    )


class WindowStats(BaseModel):
    """Jobs and deliveries created within the window."""

    jobs: int
    by_kind: dict[str, KindStats]
    failure_codes: dict[str, int]
    cache: CacheStats
    webhooks: WebhookStats


class LibraryStats(BaseModel):
    users: int
    active_users: int
    documents: int = Field(description="searchable documents")
    documents_ingesting: int
    documents_failed: int
    chunks: int = Field(description="searchable chunks")
    matches: int = Field(description="learners' matches against their targets")
    targets: int


class SpeechEngineStatus(BaseModel):
    engine: str
    problem: str | None = Field(description="why it cannot transcribe (its model missing), or null")


class WorkerStats(BaseModel):
    count: int
    per_queue: dict[str, list[str]] = Field(description="queue -> hostnames of the live workers consuming it")
    speech: dict[str, SpeechEngineStatus] = Field(
        default_factory=dict, description="hostname -> the speech engine of each transcribe worker"
    )
    devices: dict[str, str] = Field(
        default_factory=dict,
        description="hostname -> where each model-running worker's torch models run (`cpu`, `cuda:0`)",
    )


class StatsRead(BaseModel):
    generated_at: datetime
    library: LibraryStats
    backlog: dict[str, dict[str, int]] = Field(description="queue -> jobs queued and running now")
    workers: WorkerStats
    hour: WindowStats
    day: WindowStats
