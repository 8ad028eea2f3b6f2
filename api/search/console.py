"""/admin/embeddings: the embedding model search uses, the one this platform is configured for, each
model's coverage of the searchable chunks, and the `reembed` jobs that move search to the configured
model (or fill the active model's gaps).

A re-embed starts itself: once MENTORQ_EMBED_MODEL names another model, beat's pass queues
`reembed` jobs for the chunks it lacks and switches search to it, in one transaction, when it covers
them all (tasks/reembed/advance.py). The page shows the figures of /v1/admin/embeddings and the jobs,
each a link to its timeline on the Jobs page; its "Re-embed now" button runs that pass at once
through the service of POST /v1/admin/embeddings/reembed, without the back-off that follows a failed
job (the operator has fixed its cause), and says what the pass did.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from api.console.auth import AdminForm, AdminUser
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


def _pass_notice(queued: int | None, why: str) -> str | None:
    """What the last "Re-embed now" did, from the redirect's query (numbers and known words only)."""
    if queued:
        return f"{queued} {REEMBED.name} job{'s' if queued != 1 else ''} queued: they are listed below."
    return NOTHING_QUEUED.get(why) if queued == 0 else None


NOTHING_QUEUED = {
    "switched": "The configured model covers every searchable chunk: search uses it now.",
    "waiting": "Nothing queued: earlier re-embed jobs are still queued or running.",
    "busy": "Nothing queued: another pass (beat's) was at it. Try again in a moment.",
    "done": "Nothing to do: no searchable chunk lacks an embedding under the active or the configured model.",
}


@router.get("/admin/embeddings")
async def embeddings_page(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    queued: Annotated[int | None, Query(ge=0, le=1000)] = None,
    why: Annotated[str, Query(max_length=20)] = "",
) -> Response:
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
        notice=_pass_notice(queued, why),
    )


@router.post("/admin/embeddings/reembed")
async def reembed_now(session: SessionDep, form: AdminForm) -> Response:
    done = await search_service.reembed_now(session, user=form.admin)
    why = next((key for key in ("switched_from", "waiting", "busy") if done.get(key)), "done")
    return RedirectResponse(
        f"/admin/embeddings?queued={done['queued']}&why={why.removesuffix('_from')}", status_code=303
    )
