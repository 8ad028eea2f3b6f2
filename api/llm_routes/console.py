"""/admin/llm: which provider and model answer each LLM kind (the routing table), each provider's
status now, and a form per kind to set its route or reset it to the settings' default.

Everything goes through api/llm_routes/service.py, the same functions /v1/admin/llm-routes uses:
its validation (and its error codes) decides what is saved. This module only turns form fields
into an `LLMRouteUpdate`. Provider keys are never shown: the statuses carry none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from api.console.auth import AdminForm, AdminUser, ConsoleForm
from api.console.routing import ConsoleRoute
from api.console.templating import NavEntry, render
from api.errors import ProblemError
from api.llm_routes import service as llm_route_service
from api.llm_routes.schemas import MAX_FALLBACKS, MAX_TOKENS_CAP, LLMRouteRead, LLMRouteUpdate, ProviderStatus
from api.shared import SessionDep
from api.users import service as user_admin_service

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
NAV = NavEntry("LLM routing", "/admin/llm")

# Every stored route round-trips through the form: as many fallback rows as a route may hold.
FALLBACK_ROWS = MAX_FALLBACKS
NOTICES = {
    "saved": "The route is saved. Workers use it within a few seconds.",
    "reset": "The kind uses the default provider (the settings) again.",
    "already_default": "The kind already used the default provider: nothing changed.",
}


@dataclass(frozen=True)
class KindRow:
    """One routable kind on the page: its route, or None when it uses the default."""

    kind: str
    route: LLMRouteRead | None
    updated_by: str | None


def availability(status: ProviderStatus) -> str:
    """`available`, or why not in words (`unavailable: key missing`), for the table and selects."""
    if status.available:
        return "available"
    if status.error is None:
        return "unavailable"
    return f"unavailable: {status.error.code.replace('_', ' ')}"


def _anchor(kind: str) -> str:
    return "route-" + kind.replace(".", "-")


@router.get("/admin/llm")
async def routing_table(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    notice: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    listing = await llm_route_service.list_routes(session, user=admin)
    routes = {route.kind: route for route in listing.items}
    editors = await user_admin_service.emails_of(
        session, admin=admin, user_ids={route.updated_by for route in listing.items if route.updated_by}
    )
    # A route stored for a kind that is no longer routable (debug kinds switched off) still shows.
    kinds = sorted(set(listing.routable_kinds) | set(routes))
    rows = [
        KindRow(
            kind=kind,
            route=routes.get(kind),
            updated_by=editors.get(routes[kind].updated_by) if kind in routes else None,
        )
        for kind in kinds
    ]
    return render(
        request,
        "llm_routing.html",
        title="LLM routing",
        rows=rows,
        default=listing.default,
        providers=listing.providers,
        statuses={status.name: status for status in listing.providers},
        availability=availability,
        anchor=_anchor,
        fallback_rows=FALLBACK_ROWS,
        max_tokens_cap=MAX_TOKENS_CAP,
        notice=NOTICES.get(notice),
    )


def _number(form: ConsoleForm, name: str, parse: type, code: str, detail: str) -> int | float | None:
    """An optional number field: empty is None; anything unparsable is refused with the code the
    API gives for an out-of-range value, so the form and the API speak the same language."""
    text = form.text(name)
    if not text:
        return None
    try:
        value = parse(text)
    except ValueError:
        raise ProblemError(422, code, detail) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ProblemError(422, code, detail)
    return value


def route_update(form: ConsoleForm) -> LLMRouteUpdate:
    """The form's fields as the API's request body. Empty fallback rows are skipped, so rows may be
    left blank anywhere; a model without a provider is refused rather than silently dropped."""
    fallbacks = []
    for row in range(1, FALLBACK_ROWS + 1):
        provider, model = form.text(f"fallback_{row}_provider"), form.text(f"fallback_{row}_model")
        if not provider and model:
            raise ProblemError(
                422, "validation_error", f"fallback {row}: choose a provider for the model {model!r}"
            )
        if provider:
            fallbacks.append({"provider": provider, "model": model or None})
    return LLMRouteUpdate.model_validate(
        {
            "provider": form.text("provider"),
            "model": form.text("model") or None,
            "fallbacks": fallbacks,
            "max_tokens": _number(
                form,
                "max_tokens",
                int,
                "invalid_max_tokens",
                f"max tokens is a whole number, 1 to {MAX_TOKENS_CAP}",
            ),
            "temperature": _number(
                form, "temperature", float, "invalid_temperature", "temperature is 0 to 2"
            ),
        }
    )


@router.post("/admin/llm/{kind}")
async def save_route(kind: str, session: SessionDep, form: AdminForm) -> Response:
    await llm_route_service.put_route(session, user=form.admin, kind=kind, request=route_update(form))
    return RedirectResponse(f"/admin/llm?notice=saved#{_anchor(kind)}", status_code=303)


@router.post("/admin/llm/{kind}/reset")
async def reset_route(kind: str, session: SessionDep, form: AdminForm) -> Response:
    removed = await llm_route_service.delete_route(session, user=form.admin, kind=kind)
    notice = "reset" if removed else "already_default"
    return RedirectResponse(f"/admin/llm?notice={notice}#{_anchor(kind)}", status_code=303)
