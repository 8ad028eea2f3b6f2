"""/admin: the admin statistics (api/stats/service.py) as tables, and charts drawn on the server."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.console.auth import AdminUser
from api.console.routing import ConsoleRoute
from api.console.templating import NavEntry, render
from api.shared import SessionDep
from api.stats import service as stats_service
from core.job_status import JobStatus

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
NAV = NavEntry("Overview", "/admin")


@router.get("/admin")
async def overview(request: Request, session: SessionDep, admin: AdminUser) -> Response:
    stats = await stats_service.stats(session, user=admin)
    charts = {drawn.slug: drawn for drawn in await stats_service.charts(session, user=admin)}
    queues = sorted(set(stats.workers.per_queue) | set(stats.backlog))
    return render(
        request,
        "overview.html",
        title="Overview",
        stats=stats,
        charts=charts,
        queues=queues,
        statuses=[status.value for status in JobStatus],
    )
