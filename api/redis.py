"""The API process's Redis client: live events out, liveness keys in."""

from __future__ import annotations

import json
import logging
from functools import lru_cache

import redis.asyncio as aioredis

from db import jobs as job_queries
from db.models import Job, JobEvent
from core.channels import job_channel
from core.settings import get_settings

log = logging.getLogger(__name__)


@lru_cache
def get_async_redis() -> aioredis.Redis:
    return aioredis.Redis.from_url(
        get_settings().require_redis_url(), socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
    )


async def publish_events(pending: list[tuple[JobEvent, Job]]) -> None:
    """Publish committed job events on their live channels; best effort (the rows are the record)."""
    if not pending:
        return
    try:
        async with get_async_redis().pipeline(transaction=False) as pipe:
            for event, job in pending:
                pipe.publish(job_channel(job.id), json.dumps(job_queries.event_message(event, job)))
            await pipe.execute()
    except Exception:  # noqa: BLE001
        log.warning("could not publish live events", exc_info=True)
