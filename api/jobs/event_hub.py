"""One Redis pub/sub connection per API process, fanned out to every waiting request or stream;
and the turns those streams take at the database.

A stream subscribes to its job's channel while it lasts (a worker asks Redis whether anyone
follows a job that way). Requests that wait for a job's end share one pattern subscription to
every job's end channel, made once: a SUBSCRIBE and an UNSUBSCRIBE per waiting request, each a
round trip under the hub's lock, cost 8 % of the API's CPU on a quick job's submit (py-spy).
Each ending of every job then reaches each API process; one without a listener for it is dropped
before its JSON is read.

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

from core.channels import JOB_END_CHANNELS, job_channel, job_end_channel

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
        self._ends_subscribed = False  # the pattern subscription to every job's end channel, made once
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
        if ending_only and self._ends_subscribed and self._reading():
            # Nothing awaited between the check and the add: no other task runs in between.
            self._listeners.setdefault(channel, set()).add(queue)
        else:
            await self._add_listener(channel, queue, ending_only=ending_only)
        try:
            yield queue
        finally:
            if ending_only:
                self._drop_listener(channel, queue)
            else:
                async with self._lock:
                    if self._drop_listener(channel, queue):
                        with contextlib.suppress(Exception):
                            await self._pubsub.unsubscribe(channel)
                        if not self._listeners and not self._ends_subscribed:
                            self._subscribed.clear()

    async def _add_listener(
        self, channel: str, queue: asyncio.Queue[dict[str, Any]], *, ending_only: bool
    ) -> None:
        """Add the listener, subscribing first where it needs a subscription (its job's channel, or
        the end channels' pattern the first time); starts the reader if it is not running."""
        async with self._lock:
            if self._pubsub is None:
                self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            listeners = self._listeners.setdefault(channel, set())
            listeners.add(queue)
            try:
                if ending_only and not self._ends_subscribed:
                    await self._pubsub.psubscribe(JOB_END_CHANNELS)
                    self._ends_subscribed = True
                elif not ending_only and len(listeners) == 1:
                    await self._pubsub.subscribe(channel)
            except Exception:
                self._drop_listener(channel, queue)
                raise
            self._subscribed.set()
            if not self._reading():
                self._reader = asyncio.create_task(self._read_forever(), name="job-event-hub")

    def _drop_listener(self, channel: str, queue: asyncio.Queue[dict[str, Any]]) -> bool:
        """Remove the listener; True when it was its channel's last."""
        listeners = self._listeners.get(channel)
        if listeners is None:
            return False
        listeners.discard(queue)
        if listeners:
            return False
        del self._listeners[channel]
        return True

    def _reading(self) -> bool:
        return self._reader is not None and not self._reader.done()

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
            if not message or message.get("type") not in ("message", "pmessage"):
                continue
            channel = (
                message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
            )
            listeners = tuple(self._listeners.get(channel, ()))
            if not listeners:  # another process's waiting request, or one that stopped waiting
                continue
            try:
                event = json.loads(message["data"])
            except (TypeError, ValueError):
                continue
            for queue in listeners:
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
