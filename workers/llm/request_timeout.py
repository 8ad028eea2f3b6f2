"""Every LLM request's timeouts, cut to the time the running job has left (workers/deadline.py).

The read timeout bounds the silence between two streamed chunks (or a whole answer); the connect
timeout is short, so a provider that does not accept connections is known unavailable in seconds,
never waited on. Each client wants its own Timeout type (httpx for ollama, httpx2 for openai and
anthropic): `timeout_seconds` answers in seconds, `httpx2_timeout` in httpx2's type.
"""

from __future__ import annotations

import httpx2

from workers import deadline
from workers.llm.base import TimeLimitReached

READ_TIMEOUT_S = 600.0
CONNECT_TIMEOUT_S = 5.0


def timeout_seconds(read: float = READ_TIMEOUT_S, connect: float = CONNECT_TIMEOUT_S) -> tuple[float, float]:
    """(read, connect) seconds for the next request; TimeLimitReached when the job has no time left."""
    left = deadline.seconds_left()
    if left is None:
        return read, connect
    if left <= 0:
        raise TimeLimitReached("the job's time limit came before the model was asked")
    return min(read, left), min(connect, left)


def httpx2_timeout() -> httpx2.Timeout:
    """The next request's timeout for the clients built on httpx2 (openai, anthropic)."""
    read, connect = timeout_seconds()
    return httpx2.Timeout(read, connect=connect)
