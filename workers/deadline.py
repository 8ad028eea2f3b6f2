"""The running job's time limit, as seen by a call that can block (an LLM request).

In a prefork worker Celery's soft time limit interrupts the job with a signal. A threads pool
(the `llm` lane) has no such thing: a thread stuck in a call would hold its slot for ever. So the
job runtime sets the deadline of the job on its thread, and the LLM providers bound every request
by the time left: a hung call ends at the kind's time limit and the thread is free again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()


@contextmanager
def job_deadline(seconds: float) -> Iterator[None]:
    """Calls made on this thread within the block must end `seconds` from now."""
    previous = getattr(_local, "at", None)
    _local.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _local.at = previous


def seconds_left() -> float | None:
    """Seconds until this thread's job deadline (negative once past); None outside a job."""
    at = getattr(_local, "at", None)
    return None if at is None else at - time.monotonic()


def passed() -> bool:
    left = seconds_left()
    return left is not None and left <= 0
