"""Learning sessions: create, list, read with what was made in them, end; and the check every
learning request carrying a `session_id` goes through."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from api.exercises.schemas import exercise_read
from api.jobs.service import job_read
from api.learning_sessions.schemas import SessionCreate, SessionDetail, SessionList, SessionRead
from api.progress.schemas import ProgressEventRead
from api.shared import decode_cursor, encode_cursor, parse_id
from core.settings import get_settings
from db import learning_sessions as queries
from db.models import LearningSession, User
from db.unit_of_work import commit_async


def session_read(learning_session: LearningSession) -> SessionRead:
    if learning_session.ended_at is not None:
        status = "ended"
    elif queries.is_open(learning_session, idle_minutes=get_settings().session_idle_minutes):
        status = "open"
    else:
        status = "expired"
    return SessionRead(
        id=learning_session.id,
        title=learning_session.title,
        topic=learning_session.topic,
        status=status,
        created_at=learning_session.created_at,
        last_activity_at=learning_session.last_activity_at,
        ended_at=learning_session.ended_at,
    )


SESSION_NOT_FOUND = {"code": "session_not_found", "detail": "no such learning session"}


def _not_found() -> ProblemError:
    return ProblemError(404, **SESSION_NOT_FOUND)


async def create(session: AsyncSession, *, user: User, request: SessionCreate) -> SessionRead:
    created = await session.run_sync(
        lambda sync: queries.create(sync, user_id=user.id, title=request.title, topic=request.topic)
    )
    await commit_async(session)
    return session_read(created)


async def list_for(session: AsyncSession, *, user: User, limit: int, cursor: str | None) -> SessionList:
    before = decode_cursor(cursor) if cursor else None
    found = await session.run_sync(
        lambda sync: queries.list_for(sync, user_id=user.id, limit=limit + 1, before=before)
    )
    page, more = found[:limit], len(found) > limit
    return SessionList(
        items=[session_read(s) for s in page], next_cursor=encode_cursor(page[-1]) if more else None
    )


async def detail(session: AsyncSession, *, user: User, session_id: str) -> SessionDetail:
    parsed = parse_id(session_id, **SESSION_NOT_FOUND)

    def load(sync):
        found = queries.get(sync, user_id=user.id, session_id=parsed)
        return (found, *queries.contents(sync, session_id=parsed)) if found else (None, [], [], [])

    found, jobs, events, exercises = await session.run_sync(load)
    if found is None:
        raise _not_found()
    return SessionDetail(
        **session_read(found).model_dump(),
        jobs=[job_read(job) for job in jobs],
        progress=[ProgressEventRead.model_validate(event, from_attributes=True) for event in events],
        exercises=[exercise_read(exercise) for exercise in exercises],
    )


async def end(session: AsyncSession, *, user: User, session_id: str) -> SessionRead:
    parsed = parse_id(session_id, **SESSION_NOT_FOUND)

    def end_it(sync):
        found = queries.get(sync, user_id=user.id, session_id=parsed)
        return queries.end(sync, learning_session=found) if found else None

    ended = await session.run_sync(end_it)
    if ended is None:
        raise _not_found()
    await commit_async(session)
    return session_read(ended)
