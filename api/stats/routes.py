"""/v1/admin/stats: what the platform did in the last hour and day, and what is running it now."""

from __future__ import annotations

from fastapi import APIRouter

from api.openapi import problems
from api.shared import CurrentUser, SessionDep
from api.stats import service as stats_service
from api.stats.schemas import StatsRead

router = APIRouter(prefix="/v1/admin/stats", tags=["admin"], responses=problems(403))


@router.get("", response_model=StatsRead)
async def stats(session: SessionDep, user: CurrentUser) -> StatsRead:
    """Users, library size, jobs by kind and status with queue and run percentiles, failure codes,
    the answer cache's hit ratio and webhook success over the last hour and day; backlog and live
    workers per queue now."""
    return await stats_service.stats(session, user=user)
