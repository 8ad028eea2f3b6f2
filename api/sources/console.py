"""/admin/sources: scheduled sources (a page, feed, sitemap or server-side folder feeding a
collection on a cron schedule). The list with each source's state, a form to register one, and a
source's page with its run log, its edit form, pause and resume, run now, and delete (after a
confirmation page, as for accounts).

Everything goes through api/sources/service.py, the same functions /v1/admin/sources uses: its
validation (and its error codes) decides what is saved.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from api.console.auth import AdminForm, AdminUser
from api.console.routing import ConsoleRoute
from api.console.templating import NavEntry, render
from api.documents import service as document_service
from api.errors import ProblemError
from api.shared import SessionDep
from api.sources import service as source_service
from api.sources.schemas import SourceCreate, SourceUpdate
from core.settings import get_settings
from core.sources import SOURCE_KINDS

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
NAV = NavEntry("Sources", "/admin/sources")

RUNS_PAGE = 20
NOTICES = {
    "created": "The source is registered. Its first run is at the next time of its schedule (or run it now).",
    "saved": "The source is saved.",
    "paused": "The source is paused: beat leaves it alone until it is resumed (run now still works).",
    "resumed": "The source is resumed: its failure count is cleared and its next run scheduled.",
    "run_submitted": "A run is submitted. It appears in the run log once a worker starts it.",
    "deleted": "The source and its run log are deleted. The documents it brought in stay in the collection.",
}


def _source_url(source_id: object, notice: str, **extra: str) -> str:
    query = "&".join([f"notice={notice}", *(f"{key}={value}" for key, value in extra.items())])
    return f"/admin/sources/{source_id}?{query}"


def _checked(value: str) -> bool:
    return value == "yes"


@router.get("/admin/sources")
async def source_list(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    notice: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    listing = await source_service.list_sources(session, user=admin)
    # A source feeds a shared collection or the admin's own (the service refuses the others).
    visible = await document_service.list_collections(session, user=admin)
    collections = [collection for collection in visible.items if collection.writable]
    settings = get_settings()
    return render(
        request,
        "sources.html",
        title="Sources",
        sources=listing.items,
        collections=collections,
        kinds=SOURCE_KINDS,
        folders_root=settings.source_folders_root,
        pause_after=settings.source_pause_after_failures,
        notice=NOTICES.get(notice),
    )


@router.post("/admin/sources")
async def create(session: SessionDep, form: AdminForm) -> Response:
    wanted = SourceCreate.model_validate(
        {
            "collection_id": form.text("collection_id"),
            "name": form.text("name"),
            "kind": form.text("kind"),
            "location": form.text("location"),
            "schedule": form.text("schedule"),
            "remove_missing": _checked(form.text("remove_missing")),
        }
    )
    source = await source_service.create_source(session, user=form.admin, request=wanted)
    return RedirectResponse(_source_url(source.id, "created"), status_code=303)


@router.get("/admin/sources/{source_id}")
async def source_page(
    request: Request,
    source_id: str,
    session: SessionDep,
    admin: AdminUser,
    cursor: Annotated[str, Query(max_length=200)] = "",
    notice: Annotated[str, Query(max_length=40)] = "",
    job: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    source = await source_service.get_source(session, user=admin, source_id=source_id)
    runs = await source_service.list_runs(
        session, user=admin, source_id=source.id, limit=RUNS_PAGE, cursor=cursor or None
    )
    try:  # only an id is taken from the URL, and shown as a link to that job's page
        submitted_job = uuid.UUID(job) if job else None
    except ValueError:
        submitted_job = None
    return render(
        request,
        "source.html",
        title=f"Source {source.name}",
        source=source,
        runs=runs.items,
        next_cursor=runs.next_cursor,
        later_page=bool(cursor),
        submitted_job=submitted_job,
        pause_after=get_settings().source_pause_after_failures,
        notice=NOTICES.get(notice),
    )


@router.post("/admin/sources/{source_id}/edit")
async def edit(source_id: str, session: SessionDep, form: AdminForm) -> Response:
    changes = SourceUpdate.model_validate(
        {
            "name": form.text("name"),
            "schedule": form.text("schedule"),
            "remove_missing": _checked(form.text("remove_missing")),
        }
    )
    source = await source_service.update_source(
        session, user=form.admin, source_id=source_id, request=changes
    )
    return RedirectResponse(_source_url(source.id, "saved"), status_code=303)


@router.post("/admin/sources/{source_id}/pause")
async def pause(source_id: str, session: SessionDep, form: AdminForm) -> Response:
    source = await source_service.update_source(
        session, user=form.admin, source_id=source_id, request=SourceUpdate(paused=True)
    )
    return RedirectResponse(_source_url(source.id, "paused"), status_code=303)


@router.post("/admin/sources/{source_id}/resume")
async def resume(source_id: str, session: SessionDep, form: AdminForm) -> Response:
    source = await source_service.update_source(
        session, user=form.admin, source_id=source_id, request=SourceUpdate(paused=False)
    )
    return RedirectResponse(_source_url(source.id, "resumed"), status_code=303)


@router.post("/admin/sources/{source_id}/run")
async def run_now(source_id: str, session: SessionDep, form: AdminForm) -> Response:
    job = await source_service.run_now(session, user=form.admin, source_id=source_id)
    return RedirectResponse(_source_url(source_id, "run_submitted", job=str(job.id)), status_code=303)


@router.get("/admin/sources/{source_id}/delete")
async def confirm_delete(request: Request, source_id: str, session: SessionDep, admin: AdminUser) -> Response:
    source = await source_service.get_source(session, user=admin, source_id=source_id)
    return render(request, "source_delete.html", title=f"Delete the source {source.name}", source=source)


@router.post("/admin/sources/{source_id}/delete")
async def delete(source_id: str, session: SessionDep, form: AdminForm) -> Response:
    """Only with the confirmation box ticked."""
    if not _checked(form.text("confirm")):
        raise ProblemError(
            422, "confirmation_required", "tick the box that confirms the deletion, then delete"
        )
    await source_service.delete_source(session, user=form.admin, source_id=source_id)
    return RedirectResponse("/admin/sources?notice=deleted", status_code=303)
