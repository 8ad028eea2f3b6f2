"""The process's Redis clients: a sync one (workers, beat; reset after fork) and an async one (the API)."""

from __future__ import annotations

import os
from functools import lru_cache

import redis
import redis.asyncio as aioredis

from core.settings import get_settings

_client: redis.Redis | None = None


def get_redis() -> redis.Redis:
    """The sync client of this process."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            get_settings().require_redis_url(),
            socket_timeout=5,
            socket_connect_timeout=2,
            health_check_interval=30,
        )
    return _client


def reset_redis() -> None:
    """Forget the sync client (its connections must never be shared with a forked child)."""
    global _client
    _client = None


os.register_at_fork(after_in_child=reset_redis)


# The API's connections to Redis. A burst of requests past this many waits (up to
# ASYNC_POOL_WAIT_S) for one to come free: the plain pool raised at once instead, and the rate
# limiter, which lets a request through when Redis fails, let a burst through uncounted.
ASYNC_POOL_CONNECTIONS = 100
ASYNC_POOL_WAIT_S = 5


@lru_cache
def get_async_redis() -> aioredis.Redis:
    """The API process's async client (live events out, liveness keys and search replies in)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        get_settings().require_redis_url(),
        max_connections=ASYNC_POOL_CONNECTIONS,
        timeout=ASYNC_POOL_WAIT_S,
        socket_timeout=5,
        socket_connect_timeout=2,
        health_check_interval=30,
    )
    return aioredis.Redis.from_pool(pool)  # from_pool: closing the client closes the pool
