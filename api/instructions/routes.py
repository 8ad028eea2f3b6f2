"""/v1/admin/instructions: each kind's versioned instructions; the `active` label and its history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from api.instructions import service as instructions_service
from api.instructions.schemas import (
    ActiveMove,
    InstructionCreate,
    InstructionHistory,
    InstructionKinds,
    InstructionRead,
)
from api.openapi import problems
from api.shared import CurrentUser, SessionDep

router = APIRouter(prefix="/v1/admin/instructions", tags=["admin"], responses=problems(403))

IfMatch = Annotated[str | None, Header(alias="If-Match", description='the active version you saw, e.g. "2"')]


@router.get("", response_model=InstructionKinds)
async def list_kinds(session: SessionDep, user: CurrentUser) -> InstructionKinds:
    """Every kind with instructions, its active version and its newest."""
    return await instructions_service.kinds(session, user=user)


@router.get("/{kind}", response_model=InstructionHistory, responses=problems(404))
async def history(
    kind: str, session: SessionDep, user: CurrentUser, response: Response
) -> InstructionHistory:
    """Every version (newest first) and the label's moves. The ETag is the active version."""
    result = await instructions_service.history(session, user=user, kind=kind)
    response.headers["ETag"] = f'"{result.active_version}"'
    return result


@router.post("/{kind}", response_model=InstructionRead, status_code=201, responses=problems(404))
async def add_version(
    kind: str, request: InstructionCreate, session: SessionDep, user: CurrentUser
) -> InstructionRead:
    """A new immutable version. It is not used until the `active` label is moved to it."""
    return await instructions_service.add_version(
        session, user=user, kind=kind, text=request.text, note=request.note
    )


@router.put("/{kind}/active", response_model=InstructionHistory, responses=problems(404, 412))
async def move_active(
    kind: str,
    request: ActiveMove,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> InstructionHistory:
    """Move the `active` label (to an older version: a rollback). Jobs that start afterwards use it
    and record it; cached answers made under another version are not served."""
    result = await instructions_service.move_active(
        session, user=user, kind=kind, version=request.version, if_match=if_match
    )
    response.headers["ETag"] = f'"{result.active_version}"'
    return result
