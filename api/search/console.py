"""/admin/embeddings: the embedding model search uses, the one this platform is configured for, each
model's coverage of the searchable chunks, and the `reembed` jobs that move search to the configured
model (or fill the active model's gaps).

A re-embed starts itself: once MENTORQ_EMBED_MODEL names another model, beat queues `reembed` jobs
for the chunks it lacks and switches search to it, in one transaction, when it covers them all
(tasks/platform/reembedding.py). There is no API to start one, so the page has no button: it shows
the same figures as /v1/admin/embeddings (api/search/service.py) and the jobs, each a link to its
timeline on the Jobs page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.console.auth import AdminUser
from api.console.routing import ConsoleRoute
from api.console.templating import NavEntry, render
from api.jobs import service as job_service
from api.search import service as search_service
from api.shared import SessionDep
from core.settings import get_settings
from tasks.reembed.spec import SPEC as REEMBED

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
NAV = NavEntry("Embeddings", "/admin/embeddings")

JOBS_SHOWN = 20


@router.get("/admin/embeddings")
async def embeddings_page(request: Request, session: SessionDep, admin: AdminUser) -> Response:
    status = await search_service.embedding_status(session, user=admin)
    jobs, more = await job_service.page_of_jobs(
        session, user=admin, kind=REEMBED.name, status=None, limit=JOBS_SHOWN, cursor=None
    )
    settings = get_settings()
    return render(
        request,
        "embeddings.html",
        title="Embeddings",
        status=status,
        jobs=jobs,
        more_jobs=more is not None,
        kind=REEMBED.name,
        every_seconds=settings.reembed_every_seconds,
        batch_chunks=settings.reembed_batch_chunks,
    )
