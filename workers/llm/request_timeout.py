"""Every LLM request's timeouts, cut to the time the running job has left (workers/deadline.py).

The read timeout bounds the silence between two streamed chunks (or a whole answer); the connect
timeout is short, so a provider that does not accept connections is known unavailable in seconds,
never waited on. Each client wants its own Timeout type (httpx for ollama, httpx2 for openai and
anthropic): `timeout_seconds` answers in seconds, `httpx2_timeout` in httpx2's type. A stream is
read through `read_stream`, which stops it at the job's deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import TypeVar

import httpx2

from workers import deadline
from workers.llm.base import TimeLimitReached

T = TypeVar("T")

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


def read_stream(
    stream: Iterable[T], errors: Callable[[], AbstractContextManager[object]], where: str
) -> Iterator[T]:
    """The stream's chunks, each read inside `errors()` (the client's exceptions translated), and
    TimeLimitReached once the job's deadline has passed: a server that trickles tokens would never
    trip the read timeout. What the caller raises while handling a chunk (a cancel from on_token)
    is raised in the caller's frame, so it never passes through `errors()`."""
    chunks = iter(stream)
    while True:
        with errors():
            chunk = next(chunks, None)
        if chunk is None:
            return
        if deadline.passed():
            raise TimeLimitReached(f"{where} was still answering at the time limit")
        yield chunk
