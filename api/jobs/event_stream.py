"""Server-sent events for one job: replay its recorded events, then follow live ones until it ends.

Recorded events carry their database id as the SSE id, so a client that reconnects with
Last-Event-ID gets exactly what it missed. A live notification only wakes the stream: what is
sent is always read back from the database in id order, so nothing is lost or repeated even if
a notification is dropped (a slow client's queue is bounded) or Redis is down (then it polls).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from api.jobs.event_hub import JobEventHub
from api.jobs.service import listen_if_possible
from core.job_status import TERMINAL
from db import jobs as job_queries
from db.job_resource import job_resource
from db.models import JobEvent
from db.session import async_session_factory

POLL_WITHOUT_REDIS_S = 0.5

STATUS_EVENTS = {"queued", "started", "retried", "succeeded", "canceled"}


def sse_type(event: JobEvent) -> str:
    """The SSE event name of a recorded job event."""
    if event.type in STATUS_EVENTS:
        return "status"
    if event.type == "failed":
        return "error"
    return event.type  # progress, output


def format_sse(*, event: str, data: Any, event_id: int | None = None) -> str:
    lines = [f"id: {event_id}"] if event_id is not None else []
    lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in json.dumps(data, separators=(",", ":")).splitlines())
    return "\n".join(lines) + "\n\n"


def _payload(event: JobEvent) -> dict[str, Any]:
    return {"type": event.type, "data": event.data, "at": event.created_at.isoformat()}


async def stream_job_events(
    hub: JobEventHub, *, job_id: uuid.UUID, after_id: int, keepalive_s: float
) -> AsyncIterator[str]:
    """Yield SSE frames until the job has ended and every event was sent, then `done`."""
    yield "retry: 2000\n\n"
    last_id = after_id
    first_read = True
    async with listen_if_possible(hub, job_id) as live:
        while True:
            # One query per wake-up: the terminal event is itself in the timeline (it commits
            # with the status), so the job row is read only once, for `done`. The first read also
            # looks at the job itself: a client resuming after the terminal event (it missed only
            # `done`) finds none, nor does one whose job's timeline lacks it (a row written
            # outside the job runtime), and either would otherwise wait for ever.
            async with hub.stream_reads, async_session_factory()() as session:
                events = await job_queries.events_after(session, job_id=job_id, after_id=last_id)
                ended = any(event.type in TERMINAL for event in events)
                job = None
                if ended or first_read:
                    job = await job_queries.get_job(session, job_id=job_id, owner_id=None)
                    if job is not None and job.status not in TERMINAL:
                        job = None
                    elif job is not None and not ended:  # it ended between the two reads
                        seen = events[-1].id if events else last_id
                        events += await job_queries.events_after(session, job_id=job_id, after_id=seen)
            first_read = False
            for event in events:
                yield format_sse(event=sse_type(event), data=_payload(event), event_id=event.id)
                last_id = event.id
            if job is not None:
                yield format_sse(event="done", data=job_resource(job))
                return
            if live is None:
                await asyncio.sleep(POLL_WITHOUT_REDIS_S)
                continue
            try:
                await asyncio.wait_for(live.get(), timeout=keepalive_s)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            while not live.empty():  # coalesce a burst of notifications into one read
                live.get_nowait()
