"""/api/profiles/progress: record what a learner did, ask for an insight, read the timeline and the
learner model (the original service's paths, beside the profile's)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.jobs.schemas import JobRead
from api.openapi import problems
from api.progress import service as progress_service
from api.progress.schemas import ProgressCreate, ProgressRead, ProgressRecorded
from api.shared import CurrentUser, SessionDep

router = APIRouter(prefix="/api/profiles", tags=["profiles"])


@router.post("/progress", response_model=ProgressRecorded, status_code=202, responses=problems(403, 404, 409))
async def record_progress(
    request: ProgressCreate, session: SessionDep, user: CurrentUser
) -> ProgressRecorded:
    """Record what you did: the learner model (mastery per skill, review cards) is updated at once,
    and a `progress_insight` job is queued (one at a time per learner)."""
    return await progress_service.record(session, user=user, request=request)


@router.post("/progress/insight", response_model=JobRead, status_code=202)
async def request_insight(session: SessionDep, user: CurrentUser) -> JobRead:
    """Queue a `progress_insight` job now (or get the one already queued)."""
    return await progress_service.request_insight(session, user=user)


@router.get("/progress", response_model=ProgressRead)
async def read_progress(
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> ProgressRead:
    """Your timeline (newest first, a page at a time), mastery by skill (weakest first), reviews
    due now, your streak in days, and the latest insight."""
    return await progress_service.read(session, user=user, limit=limit, cursor=cursor)
