"""/admin/instructions: the instructed kinds, each kind's versions and label moves, the diff between
two versions, a new version, and moving `active` (conditionally: the form says which version it
saw active, so a move another admin made meanwhile is refused with 412 `label_moved`)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from api.console.auth import AdminForm, AdminUser
from api.console.routing import ConsoleRoute
from api.console.templating import NavEntry, render
from api.errors import ProblemError
from api.instructions import service as instructions_service
from api.instructions.schemas import InstructionCreate, InstructionRead
from api.shared import SessionDep
from core.sql_limits import MAX_INTEGER

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
NAV = NavEntry("Instructions", "/admin/instructions")

NOTICES = {
    "moved": "The active label moved: jobs that start from now on use that version.",
    "added": "The new version is saved. It is not used until you make it active.",
}


@dataclass(frozen=True)
class DiffLine:
    kind: str  # add | del | hunk | same
    text: str


def diff_lines(old: InstructionRead, new: InstructionRead) -> list[DiffLine]:
    """A unified diff of two versions' texts, line by line, each marked for the page."""
    lines = difflib.unified_diff(
        old.text.splitlines(),
        new.text.splitlines(),
        fromfile=f"version {old.version}",
        tofile=f"version {new.version}",
        lineterm="",
    )
    marked = []
    for line in lines:
        if line.startswith(("---", "+++", "@@")):
            marked.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            marked.append(DiffLine("add", line))
        elif line.startswith("-"):
            marked.append(DiffLine("del", line))
        else:
            marked.append(DiffLine("same", line))
    return marked


@router.get("/admin/instructions")
async def kinds(request: Request, session: SessionDep, admin: AdminUser) -> Response:
    listing = await instructions_service.kinds(session, user=admin)
    return render(request, "instructions.html", title="Instructions", kinds=listing.items)


@router.get("/admin/instructions/{kind}")
async def history(
    request: Request,
    kind: str,
    session: SessionDep,
    admin: AdminUser,
    a: Annotated[int | None, Query(ge=1)] = None,
    b: Annotated[int | None, Query(ge=1)] = None,
    notice: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    found = await instructions_service.history(session, user=admin, kind=kind)
    by_number = {version.version: version for version in found.versions}
    diff = None
    if a is not None and b is not None:
        missing = [n for n in (a, b) if n not in by_number]
        if missing:
            raise ProblemError(404, "instructions_version_not_found", f"{kind} has no version {missing[0]}")
        diff = diff_lines(by_number[a], by_number[b])
    elif len(found.versions) >= 2:  # the form's defaults: the previous version against the newest
        a, b = found.versions[1].version, found.versions[0].version
    return render(
        request,
        "instruction_kind.html",
        title=f"Instructions: {kind}",
        history=found,
        diff=diff,
        a=a,
        b=b,
        notice=NOTICES.get(notice),
    )


@router.post("/admin/instructions/{kind}/active")
async def move_active(kind: str, session: SessionDep, form: AdminForm) -> Response:
    version, expected = form.text("version"), form.text("expected")
    if not version.isdigit() or not 1 <= int(version) <= MAX_INTEGER:
        raise ProblemError(422, "validation_error", "choose a version to make active")
    await instructions_service.move_active(
        session,
        user=form.admin,
        kind=kind,
        version=int(version),
        if_match=f'"{expected}"' if expected else None,
    )
    return RedirectResponse(f"/admin/instructions/{kind}?notice=moved", status_code=303)


@router.post("/admin/instructions/{kind}/versions")
async def add_version(kind: str, session: SessionDep, form: AdminForm) -> Response:
    request = InstructionCreate.model_validate({"text": form.text("text"), "note": form.text("note") or None})
    await instructions_service.add_version(
        session, user=form.admin, kind=kind, text=request.text, note=request.note
    )
    return RedirectResponse(f"/admin/instructions/{kind}?notice=added", status_code=303)
