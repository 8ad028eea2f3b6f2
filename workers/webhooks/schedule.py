"""When to try a failed webhook delivery again: a fixed backoff with jitter that honours Retry-After."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

# Delay after failed attempt 1, 2, ... 7; the 8th failure is final (Standard Webhooks' example schedule).
RETRY_SCHEDULE_S = [5, 300, 1800, 7200, 18000, 36000, 36000]
MAX_ATTEMPTS = len(RETRY_SCHEDULE_S) + 1
JITTER = 0.2
MAX_RETRY_AFTER_S = 24 * 3600.0


def next_delay(
    attempt_number: int,
    retry_after_s: float | None,
    rng: Callable[[], float] = random.random,
    schedule: Sequence[float] = RETRY_SCHEDULE_S,
) -> float | None:
    """Seconds to wait after failed attempt `attempt_number` (1-based), or None when that was the last one.

    The scheduled delay gets ±20% jitter so a receiver that comes back is not hit by every job at
    once. A receiver's Retry-After wins when it asks for longer, capped at 24 h; it never shortens
    the schedule.
    """
    if attempt_number < 1:
        raise ValueError("attempt numbers start at 1")
    if attempt_number > len(schedule):
        return None
    delay = schedule[attempt_number - 1] * (1 + JITTER * (2 * rng() - 1))
    if retry_after_s is not None and retry_after_s > delay:
        delay = max(delay, min(float(retry_after_s), MAX_RETRY_AFTER_S))
    return delay
