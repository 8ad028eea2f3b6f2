"""/v1/admin/cache: the answer cache's entries, hits, misses and hit ratio; purging it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from api import ask_service
from api.assistant_schemas import CachePurged, CacheRead
from api.deps import CurrentUser, SessionDep
from api.openapi import problems
from core.sql_limits import MAX_BIGINT

router = APIRouter(prefix="/v1/admin/cache", tags=["admin"], responses=problems(403))


@router.get("", response_model=CacheRead)
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


@router.delete("", response_model=CachePurged)
async def purge(
    session: SessionDep,
    user: CurrentUser,
    user_id: Annotated[uuid.UUID | None, Query(description="only this user's private entries")] = None,
) -> CachePurged:
    """Drop every entry (or one user's private ones); the next questions are answered afresh."""
    return await ask_service.purge_cache(session, user=user, owner_id=user_id)
