"""The process's Redis clients, for two Redis servers (docs/production/redis.md lists every key).

- **The broker Redis** (REDIS_URL, `noeviction`): Celery's queues, and what the broker's work relies
  on: the reconciler's epoch marker (an empty broker means lost messages), the workers' liveness
  keys, the job event channels (a worker publishes, the API subscribes: one server for both), the
  search replies a `query` worker hands back. Nothing here is made by a request on its own.
- **The state Redis** (MENTORQ_STATE_REDIS_URL, unset = the broker Redis): what requests make,
  every key with a TTL: rate-limit counters, LTI login state, the platforms' token cache. It has a
  `maxmemory` and evicts; filling it from outside cannot refuse a job's message.

Sync clients (workers, beat) are reset after fork; async ones are the API's.
"""

from __future__ import annotations

import os
from functools import lru_cache

import redis
import redis.asyncio as aioredis

from core.settings import get_settings

_broker_client: redis.Redis | None = None
_state_client: redis.Redis | None = None


def _sync_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)


def get_broker_redis() -> redis.Redis:
    """The sync client of this process for the broker Redis."""
    global _broker_client
    if _broker_client is None:
        _broker_client = _sync_client(get_settings().require_redis_url())
    return _broker_client


def get_state_redis() -> redis.Redis:
    """The sync client of this process for the state Redis."""
    global _state_client
    if _state_client is None:
        _state_client = _sync_client(get_settings().require_state_redis_url())
    return _state_client


def reset_redis() -> None:
    """Forget the sync clients (their connections must never be shared with a forked child)."""
    global _broker_client, _state_client
    _broker_client = _state_client = None


os.register_at_fork(after_in_child=reset_redis)


# The API's connections to each Redis. A burst of requests past this many waits (up to
# ASYNC_POOL_WAIT_S) for one to come free: the plain pool raised at once instead, and the rate
# limiter, which lets a request through when Redis fails, let a burst through uncounted.
ASYNC_POOL_CONNECTIONS = 100
ASYNC_POOL_WAIT_S = 5


def _async_client(url: str) -> aioredis.Redis:
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=ASYNC_POOL_CONNECTIONS,
        timeout=ASYNC_POOL_WAIT_S,
        socket_timeout=5,
        socket_connect_timeout=2,
        health_check_interval=30,
    )
    return aioredis.Redis.from_pool(pool)  # from_pool: closing the client closes the pool


@lru_cache
def get_async_broker_redis() -> aioredis.Redis:
    """The API's async client for the broker Redis (live events out, liveness keys and search replies in)."""
    return _async_client(get_settings().require_redis_url())


@lru_cache
def get_async_state_redis() -> aioredis.Redis:
    """The API's async client for the state Redis (rate limits, LTI login state)."""
    return _async_client(get_settings().require_state_redis_url())
