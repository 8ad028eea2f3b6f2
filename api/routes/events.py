"""GET /v1/jobs/{id}/events: the job's timeline as server-sent events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from api import job_service
from api.deps import CurrentUser, EventHubDep, SessionDep
from api.event_stream import stream_job_events
from api.headers import parse_last_event_id
from core.settings import get_settings

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


EVENT_STREAM = {
    200: {
        "description": "The job's events as server-sent events, ending with `event: done`",
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "description": "one server-sent event; `data` is JSON (an event, or the job at `done`)",
                    "properties": {
                        "event": {"enum": ["status", "progress", "output", "error", "done"]},
                        "data": {"type": "string"},
                        "id": {"type": "string", "pattern": "^[0-9]+$"},
                    },
                    "required": ["event", "data"],
                }
            }
        },
    }
}


@router.get("/{job_id}/events", response_class=StreamingResponse, responses=EVENT_STREAM)
async def job_events(
    job_id: str,
    session: SessionDep,
    user: CurrentUser,
    hub: EventHubDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Replays the recorded events (after Last-Event-ID), streams live ones, ends with `event: done`."""
    after = parse_last_event_id(last_event_id)
    job = await job_service.get_job_for(session, user=user, job_id=job_id)
    await session.close()  # the stream reads with its own short sessions; don't hold a connection
    return StreamingResponse(
        stream_job_events(
            hub, job_id=job.id, after_id=after, keepalive_s=get_settings().sse_keepalive_seconds
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
