"""/v1/jobs: submit, read, list, cancel, and a job's timeline as server-sent events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse

from api.headers import parse_idempotency_key, parse_last_event_id, parse_prefer_wait
from api.jobs import service as job_service
from api.jobs.event_hub import EventHubDep
from api.jobs.event_stream import stream_job_events
from api.jobs.schemas import JobCreate, JobList, JobRead
from api.openapi import problems
from api.shared import CurrentUser, SessionDep
from core.job_status import TERMINAL, JobStatus
from core.settings import get_settings

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

PreferHeader = Annotated[
    str | None, Header(description="`wait=N` (N <= 60): hold the request until the job ends")
]


def wait_seconds(prefer: str | None, response: Response) -> int | None:
    wait = parse_prefer_wait(prefer, max_wait=get_settings().max_wait_seconds)
    if wait is not None:
        response.headers["Preference-Applied"] = f"wait={wait}"
    return wait


@router.post(
    "", response_model=JobRead, status_code=202, responses={200: {"model": JobRead}, **problems(409)}
)
async def submit_job(
    request: JobCreate,
    session: SessionDep,
    user: CurrentUser,
    hub: EventHubDep,
    response: Response,
    prefer: PreferHeader = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JobRead:
    """Queue a job. 202 with its resource; 200 if it already finished within `Prefer: wait`."""
    key = parse_idempotency_key(idempotency_key)
    wait = wait_seconds(prefer, response)
    if wait:
        job, created = await job_service.submit_and_wait(
            session, hub, owner=user, request=request, idempotency_key=key, seconds=wait
        )
    else:
        job, created = await job_service.submit_job(session, owner=user, request=request, idempotency_key=key)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    response.status_code = 200 if job.status in TERMINAL and wait else 202
    return job_service.job_read(job)


@router.get("/{job_id}", response_model=JobRead)
async def get_job(
    job_id: str,
    session: SessionDep,
    user: CurrentUser,
    hub: EventHubDep,
    response: Response,
    prefer: PreferHeader = None,
) -> JobRead:
    """The job; with `Prefer: wait=N`, once it ended or N seconds passed."""
    job = await job_service.get_job_for(session, user=user, job_id=job_id)
    wait = wait_seconds(prefer, response)
    if wait:
        job = await job_service.wait_for_job(session, hub, job=job, seconds=wait)
    return job_service.job_read(job)


@router.get("", response_model=JobList)
async def list_jobs(
    session: SessionDep,
    user: CurrentUser,
    kind: str | None = None,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> JobList:
    """The user's jobs, newest first, a page at a time (`next_cursor`)."""
    return await job_service.list_jobs_for(
        session, user=user, kind=kind, status=status.value if status else None, limit=limit, cursor=cursor
    )


@router.post("/{job_id}/cancel", response_model=JobRead, responses=problems(409))
async def cancel_job(job_id: str, session: SessionDep, user: CurrentUser) -> JobRead:
    """Cancel a queued job (it never runs) or a running one (it stops at its next check)."""
    job = await job_service.cancel_job_for(session, user=user, job_id=job_id)
    return job_service.job_read(job)


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
