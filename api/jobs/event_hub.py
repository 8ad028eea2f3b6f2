"""One Redis pub/sub connection per API process, fanned out to every waiting request or stream;
and the turns those streams take at the database.

A listener gets a bounded queue: a slow consumer loses live messages (it can re-read the
recorded events from the database), it never blocks the reader or a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import Depends, Request

from core.channels import job_channel, job_end_channel

log = logging.getLogger(__name__)

LISTENER_QUEUE_SIZE = 1000
# Event streams read the database on every wake-up. At most this many at once: half the API's
# database pool (db/session.py), so a crowd of streams leaves the rest to other requests, and a
# stream waiting its turn catches up on every event since in one read.
STREAM_READS_AT_ONCE = 20


class JobEventHub:
    def __init__(self, redis: aioredis.Redis):
        self._redis = redis
        self._pubsub: aioredis.client.PubSub | None = None
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()  # the reader sleeps on this while nothing is subscribed
        # Counts the moments a listener may have missed a message (a read error and reconnect, a
        # full listener queue). While it stands still, a quiet listener has missed nothing.
        self.interruptions = 0
        self.stream_reads = asyncio.Semaphore(STREAM_READS_AT_ONCE)

    @contextlib.asynccontextmanager
    async def listen(
        self, job_id: object, *, ending_only: bool = False
    ) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        """Subscribe to a job's live events for the duration of the block (`ending_only`: to its
        ending event alone, for a request that waits for it). Raises if Redis is down."""
        channel = job_end_channel(job_id) if ending_only else job_channel(job_id)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=LISTENER_QUEUE_SIZE)
        async with self._lock:
            if self._pubsub is None:
                self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            listeners = self._listeners.setdefault(channel, set())
            listeners.add(queue)
            if len(listeners) == 1:
                try:
                    await self._pubsub.subscribe(channel)
                except Exception:
                    listeners.discard(queue)
                    if not listeners:
                        del self._listeners[channel]
                    raise
                self._subscribed.set()
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read_forever(), name="job-event-hub")
        try:
            yield queue
        finally:
            async with self._lock:
                listeners = self._listeners.get(channel, set())
                listeners.discard(queue)
                if not listeners and channel in self._listeners:
                    del self._listeners[channel]
                    with contextlib.suppress(Exception):
                        await self._pubsub.unsubscribe(channel)
                    if not self._listeners:
                        self._subscribed.clear()

    async def _read_forever(self) -> None:
        while True:
            try:
                if self._pubsub is None or not self._pubsub.subscribed:
                    await self._subscribed.wait()
                    if self._pubsub is None or not self._pubsub.subscribed:
                        await asyncio.sleep(0.005)  # subscribed, but the reply is not read yet
                    continue
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis went away; redis-py resubscribes on reconnect
                log.debug("event hub read failed; retrying", exc_info=True)
                self.interruptions += 1
                await asyncio.sleep(0.5)
                continue
            if not message or message.get("type") != "message":
                continue
            channel = (
                message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
            )
            try:
                event = json.loads(message["data"])
            except (TypeError, ValueError):
                continue
            for queue in tuple(self._listeners.get(channel, ())):
                try:
                    queue.put_nowait(event)
                except asyncio.QueueFull:
                    self.interruptions += 1

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()


async def get_event_hub(request: Request) -> JobEventHub:  # async: a plain def costs a thread hop
    return request.app.state.event_hub


EventHubDep = Annotated[JobEventHub, Depends(get_event_hub)]
