"""/api/ask: grounded answers with checked citations, and a stored answer's citations looked up
again; /v1/admin/cache (admin_router): the answer cache's entries and hit ratio, and purging it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.ask import service as ask_service
from api.ask.schemas import AnswerRead, AskRequest, CachePurged, CacheRead
from api.jobs import service as job_service
from api.jobs.event_hub import EventHubDep
from api.jobs.routes import PreferHeader, wait_seconds
from api.jobs.schemas import JobRead
from api.openapi import problems
from api.shared import CurrentUser, SessionDep
from core.job_status import TERMINAL
from core.sql_limits import MAX_BIGINT

router = APIRouter(prefix="/api/ask", tags=["assistant"])


@router.post(
    "",
    response_model=JobRead,
    status_code=202,
    responses={200: {"model": JobRead}, **problems(404, 409, 413, 429)},
)
async def ask(
    request: AskRequest,
    session: SessionDep,
    user: CurrentUser,
    hub: EventHubDep,
    response: Response,
    prefer: PreferHeader = None,
) -> JobRead:
    """Queue an `ask` job (its tokens stream on /v1/jobs/{id}/events). A question answered before
    from the same collections, unchanged since, under the same instructions and model, comes back
    at once as a succeeded job with `cached: true` and the original job's id."""
    wait = wait_seconds(prefer, response)
    job = await ask_service.ask(session, user=user, request=request)
    if wait:
        job = await job_service.wait_for_job(session, hub, job=job, seconds=wait)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    response.status_code = 200 if job.status in TERMINAL and wait else 202
    return job_service.job_read(job)


@router.get("/{job_id}", response_model=AnswerRead, responses=problems(404))
async def answer(job_id: str, session: SessionDep, user: CurrentUser) -> AnswerRead:
    """The answer with each citation looked up now: `current`, `moved` (its document was
    re-ingested; the chunk now holding the quote) or `removed`."""
    return await ask_service.answer(session, user=user, job_id=job_id)


admin_router = APIRouter(prefix="/v1/admin/cache", tags=["admin"], responses=problems(403))


@admin_router.get("", response_model=CacheRead)
async def cache(
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        int | None, Query(ge=0, le=MAX_BIGINT, description="next_cursor of the previous page")
    ] = None,
    window_hours: Annotated[int, Query(ge=1, le=24 * 30, description="hours counted")] = 24,
) -> CacheRead:
    """Live entries, newest first, and how many ask jobs were answered from the cache."""
    return await ask_service.cache_report(
        session, user=user, limit=limit, before_id=cursor, window_hours=window_hours
    )


@admin_router.delete("", response_model=CachePurged)
async def purge(
    session: SessionDep,
    user: CurrentUser,
    user_id: Annotated[uuid.UUID | None, Query(description="only this user's private entries")] = None,
) -> CachePurged:
    """Drop every entry (or one user's private ones); the next questions are answered afresh."""
    return await ask_service.purge_cache(session, user=user, owner_id=user_id)
