"""/api/sessions: learning sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.learning_sessions import service as learning_session_service
from api.learning_sessions.schemas import SessionCreate, SessionDetail, SessionList, SessionRead
from api.openapi import problems
from api.shared import CurrentUser, SessionDep

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


@router.post("", response_model=SessionRead, status_code=201)
async def create_session(request: SessionCreate, session: SessionDep, user: CurrentUser) -> SessionRead:
    """Start a learning session; send its id as `session_id` with learning requests made in it."""
    return await learning_session_service.create(session, user=user, request=request)


@router.get("", response_model=SessionList)
async def list_sessions(
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> SessionList:
    """Your sessions, newest first."""
    return await learning_session_service.list_for(session, user=user, limit=limit, cursor=cursor)


@router.get("/{session_id}", response_model=SessionDetail, responses=problems(404))
async def get_session(session_id: str, session: SessionDep, user: CurrentUser) -> SessionDetail:
    """The session with the jobs and progress events made in it."""
    return await learning_session_service.detail(session, user=user, session_id=session_id)


@router.post("/{session_id}/end", response_model=SessionRead, responses=problems(404))
async def end_session(session_id: str, session: SessionDep, user: CurrentUser) -> SessionRead:
    """End the session; later requests naming it are 409 `session_closed`."""
    return await learning_session_service.end(session, user=user, session_id=session_id)
