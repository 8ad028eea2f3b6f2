"""Request and response bodies of /v1/admin/sources (scheduled sources and their run log)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collection_id: uuid.UUID
    name: str = Field(min_length=1, max_length=100)
    # page | feed | sitemap | folder (checked by the service: `invalid_source_kind`)
    kind: str = Field(description="page, feed (RSS/Atom), sitemap or folder")
    location: str = Field(
        min_length=1,
        max_length=2048,
        description="the URL (page, feed, sitemap), or a folder under MENTORQ_SOURCE_FOLDERS_ROOT "
        "(absolute, or relative to that root)",
    )
    schedule: str = Field(
        min_length=1,
        max_length=100,
        description="cron, five fields in UTC ('*/30 * * * *'), or @hourly, @daily...",
    )
    remove_missing: bool = Field(
        False,
        description="delete the source's documents that are no longer listed (after a complete listing)",
    )


class SourceUpdate(BaseModel):
    """Only the fields sent change. Un-pausing (`paused: false`) clears the failure streak and
    schedules the next run from now."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=100)
    schedule: str | None = Field(None, min_length=1, max_length=100)
    remove_missing: bool | None = None
    paused: bool | None = None


class ItemErrorRead(BaseModel):
    item: str
    code: str
    detail: str


class SourceRunRead(BaseModel):
    id: uuid.UUID
    source_id: uuid.UUID
    job_id: uuid.UUID | None
    trigger: str
    # running | succeeded | failed | skipped
    status: str
    # Items the listing found; `truncated`: the run stopped short of them (MENTORQ_SOURCE_MAX_ITEMS,
    # a folder walk or sitemap index cut at its bound, the run's time budget).
    listed: int
    truncated: bool
    added: int
    changed: int
    unchanged: int
    removed: int
    failed: int
    # Why disappeared documents were kept although remove_missing is on: truncated,
    # listing_incomplete, empty_listing.
    removal_skipped: str | None
    item_errors: list[ItemErrorRead]
    # The run's own error ({code, message}), for a failed or skipped run.
    error: dict[str, Any] | None
    started_at: datetime
    finished_at: datetime | None


class SourceRead(BaseModel):
    id: uuid.UUID
    collection_id: uuid.UUID
    collection: str
    owner_id: uuid.UUID
    name: str
    kind: str
    location: str
    schedule: str
    remove_missing: bool
    paused: bool
    paused_reason: str | None
    consecutive_failures: int
    next_run_at: datetime | None
    last_run_at: datetime | None
    created_at: datetime
    documents: int = Field(description="documents the source brought in that are still there")
    last_run: SourceRunRead | None = None


class SourceDetail(SourceRead):
    """A source with its most recent runs (newest first)."""

    runs: list[SourceRunRead]


class SourceList(BaseModel):
    items: list[SourceRead]


class SourceRunList(BaseModel):
    items: list[SourceRunRead]
    next_cursor: str | None = None
