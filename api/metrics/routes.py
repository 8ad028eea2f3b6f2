"""GET /metrics: the API processes' counts and the lanes' backlog, for Prometheus.

Not public: it answers only a bearer token equal to MENTORQ_METRICS_TOKEN (404 while none is set,
so a deployment never shows its traffic by accident), and the production proxy refuses the path
(deploy/nginx/), so only a scraper on the private network reaches it. A token rather than a port of
its own: uvicorn's workers share the one port, and any of them answers for all (core/metrics/processes.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.errors import ProblemError
from api.shared import SessionDep
from core.metrics import exposition
from core.metrics.queues import backlog_registry
from core.settings import get_settings
from db import stats as stats_queries

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request, session: SessionDep) -> Response:
    settings = get_settings()
    if not exposition.served(settings):
        raise ProblemError(404, "not_found", "Not Found")
    if not exposition.authorized(settings, request.headers.get("authorization")):
        raise ProblemError(
            401, "unauthorized", "metrics need the scrape token", headers={"WWW-Authenticate": "Bearer"}
        )
    rows = await stats_queries.backlog(session)
    return Response(exposition.exposition([backlog_registry(rows)]), media_type=exposition.CONTENT_TYPE)
