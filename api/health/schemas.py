"""The admins' health report (GET /v1/admin/health)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class HealthRead(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, dict[str, Any]] = Field(
        description=(
            "each check's report: `ok`, and its details (`workers`: count, queues, hostnames, "
            "sandbox, speech, devices; `mail`: transport); a failed check names its `error`"
        )
    )
