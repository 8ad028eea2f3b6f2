"""The `account.delete` kind: a user leaves, and everything they own goes with them."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict

from core.jobspec import JobSpec


class AccountDeleteInput(BaseModel):
    """Created by DELETE /api/profiles/me (or an admin's delete); owned by the platform, not the user,
    so the record of the deletion outlives the account."""

    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID


class AccountDeleteOutput(BaseModel):
    user_id: uuid.UUID
    canceled_jobs: int
    # Rows removed, by what they were (documents, jobs, progress_events, ...).
    deleted: dict[str, int]


SPEC = JobSpec(
    name="account.delete",
    description="Delete an account and everything it owns (created by DELETE /api/profiles/me).",
    input_model=AccountDeleteInput,
    output_model=AccountDeleteOutput,
    queue="cpu",
    soft_time_limit=600,
    time_limit=660,
    internal=True,
)
