"""Dependencies shared by routes: the session, the current user, the event hub."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import CurrentUser  # noqa: F401  (re-exported for routes)
from api.events import JobEventHub
from db.session import get_async_session

SessionDep = Annotated[AsyncSession, Depends(get_async_session)]


async def get_event_hub(request: Request) -> JobEventHub:  # async: a plain def costs a thread hop
    return request.app.state.event_hub


EventHubDep = Annotated[JobEventHub, Depends(get_event_hub)]
