"""The job running on this thread, as the LLM routing sees it: its kind (which route applies),
where to record an event (a fallback), and which provider and model answered.

Set by the job runtime around the body, like the deadline (workers/deadline.py); a call made
outside a job (a test, the command line) sees None and gets the settings' provider.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_local = threading.local()


@dataclass
class RunningJob:
    job_id: uuid.UUID
    kind: str
    # Records an event on the job's timeline, in order with its progress and output (EventRecorder).
    add_event: Callable[[str, dict[str, Any]], None]
    answered_by: tuple[str, str] | None = None  # (provider, model) of the last LLM answer

    def answered(self, provider: str, model: str) -> None:
        self.answered_by = (provider, model)


@contextmanager
def running(job: RunningJob) -> Iterator[RunningJob]:
    """Calls made on this thread within the block belong to `job`."""
    previous = getattr(_local, "job", None)
    _local.job = job
    try:
        yield job
    finally:
        _local.job = previous


def current() -> RunningJob | None:
    """The job running on this thread; None outside a job."""
    return getattr(_local, "job", None)
