"""The workers alive now, as they announce themselves in Redis (a key per worker that expires when
its heartbeats stop): read by /readyz and by the admin statistics."""

from __future__ import annotations

import json
from typing import Any

from core.channels import WORKER_KEY_PREFIX
from core.redis_clients import get_async_redis


async def live_workers() -> list[dict[str, Any]]:
    """Each live worker's announcement: hostname, queues, sandbox layers."""
    redis = get_async_redis()
    workers = []
    async for key in redis.scan_iter(match=f"{WORKER_KEY_PREFIX}*", count=100):
        raw = await redis.get(key)
        if raw:
            workers.append(json.loads(raw))
    return workers


def workers_per_queue(workers: list[dict[str, Any]]) -> dict[str, list[str]]:
    """queue -> the hostnames of the workers consuming it."""
    queues: dict[str, list[str]] = {}
    for worker in workers:
        for queue in worker.get("queues", []):
            queues.setdefault(queue, []).append(worker["hostname"])
    return {queue: sorted(hosts) for queue, hosts in sorted(queues.items())}
