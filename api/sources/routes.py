"""/v1/admin/sources: scheduled sources (a page, feed, sitemap or folder refreshing a collection)
and their run log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.jobs.schemas import JobRead
from api.openapi import problems
from api.shared import CurrentUser, SessionDep
from api.sources import service as source_service
from api.sources.schemas import (
    SourceCreate,
    SourceDetail,
    SourceList,
    SourceRead,
    SourceRunList,
    SourceUpdate,
)

router = APIRouter(prefix="/v1/admin/sources", tags=["admin"], responses=problems(403))


@router.post("", response_model=SourceRead, status_code=201, responses=problems(404, 409, 422))
async def create_source(request: SourceCreate, session: SessionDep, user: CurrentUser) -> SourceRead:
    """Register a source for a collection; beat runs it on its cron schedule (UTC)."""
    return await source_service.create_source(session, user=user, request=request)


@router.get("", response_model=SourceList)
async def list_sources(session: SessionDep, user: CurrentUser) -> SourceList:
    """Every source: paused or not (and why), failures in a row, next run, last run's summary."""
    return await source_service.list_sources(session, user=user)


@router.get("/{source_id}", response_model=SourceDetail, responses=problems(404))
async def get_source(source_id: str, session: SessionDep, user: CurrentUser) -> SourceDetail:
    """One source with its last 20 runs."""
    return await source_service.get_source(session, user=user, source_id=source_id)


@router.patch("/{source_id}", response_model=SourceRead, responses=problems(404, 422))
async def update_source(
    source_id: str, request: SourceUpdate, session: SessionDep, user: CurrentUser
) -> SourceRead:
    """Rename, reschedule, switch removal of missing documents, pause or resume (`paused: false`
    clears the failure streak and schedules the next run from now)."""
    return await source_service.update_source(session, user=user, source_id=source_id, request=request)


@router.delete("/{source_id}", status_code=204, responses=problems(404))
async def delete_source(source_id: str, session: SessionDep, user: CurrentUser) -> Response:
    """Delete the source and its run log; the documents it brought in stay."""
    await source_service.delete_source(session, user=user, source_id=source_id)
    return Response(status_code=204)


@router.post("/{source_id}/run", response_model=JobRead, status_code=202, responses=problems(404))
async def run_now(source_id: str, session: SessionDep, user: CurrentUser, response: Response) -> JobRead:
    """Run the source now (a `source_run` job); a run already running makes this one `skipped`."""
    job = await source_service.run_now(session, user=user, source_id=source_id)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job


@router.get("/{source_id}/runs", response_model=SourceRunList, responses=problems(404))
async def list_runs(
    source_id: str,
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> SourceRunList:
    """The run log, newest first; `next_cursor` fetches the next page."""
    return await source_service.list_runs(session, user=user, source_id=source_id, limit=limit, cursor=cursor)
