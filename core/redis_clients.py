"""One Redis client per worker process (reset after fork)."""

from __future__ import annotations

import redis

from core.settings import get_settings

_client: redis.Redis | None = None


def get_redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            get_settings().require_redis_url(), socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
        )
    return _client


def reset_redis() -> None:
    global _client
    _client = None
