"""What a job body raises or returns to end its job, or this delivery of it, in the platform's terms."""

from __future__ import annotations

from typing import Any


class JobFailure(Exception):
    """Ends the job `failed` with `code`; `retryable` failures get another attempt while any are left."""

    def __init__(
        self, code: str, message: str, *, retryable: bool = False, details: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.details = details


class JobCanceled(Exception):
    """Raised inside a job body when the job was canceled; the runtime stops quietly."""


class NextStage:
    """Returned by a stage's body: hand the job to its next stage (which runs on another queue)."""

    def __init__(self, stage: str, message: str = ""):
        self.stage = stage
        self.message = message
