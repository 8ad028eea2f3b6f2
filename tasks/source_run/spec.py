"""The `source_run` kind: one run of a scheduled source (a page, feed, sitemap or folder)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict

from core import lanes
from core.jobspec import JobSpec


class SourceRunInput(BaseModel):
    """Submitted by beat when the source is due, or by POST /v1/admin/sources/{id}/run; never by
    clients through POST /v1/jobs."""

    model_config = ConfigDict(extra="forbid")

    source_id: uuid.UUID
    trigger: Literal["schedule", "manual"] = "manual"


class SourceRunCounts(BaseModel):
    """What a run found and did: the run log's counts (source_runs), and the job's output."""

    listed: int = 0
    truncated: bool = False
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    removal_skipped: str | None = None


class SourceRunOutput(SourceRunCounts):
    source_id: uuid.UUID
    # The run's row in the run log (GET /v1/admin/sources/{id}/runs); a skipped run has one too.
    run_id: uuid.UUID | None = None
    status: Literal["succeeded", "failed", "skipped"]
    skipped: bool = False
    # Why a run was skipped: already_running (another run of the source is running), paused.
    reason: str | None = None


SPEC = JobSpec(
    name="source_run",
    description="Refresh a collection from a scheduled source (created by beat and /v1/admin/sources).",
    input_model=SourceRunInput,
    output_model=SourceRunOutput,
    # The run waits on the network and the disk, one item at a time: the io lane's threads.
    queue=lanes.IO,
    # A threads pool has no Celery time limits: the run stops taking items well before this
    # (tasks/source_run/task.py), and each fetch is bounded by MENTORQ_FETCH_TIMEOUT_SECONDS.
    soft_time_limit=1800,
    time_limit=1900,
    internal=True,
)
