"""Learning session queries (sync; the API calls them through `AsyncSession.run_sync`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from db.models import Exercise, Job, LearningSession, ProgressEvent


class SessionClosed(Exception):
    """The session was ended, or sat idle past the limit."""


def is_open(learning_session: LearningSession, *, idle_minutes: float, now: datetime | None = None) -> bool:
    now = now or datetime.now(UTC)
    idle = now - learning_session.last_activity_at > timedelta(minutes=idle_minutes)
    return learning_session.ended_at is None and not idle


def create(session: Session, *, user_id: uuid.UUID, title: str | None, topic: str | None) -> LearningSession:
    learning_session = LearningSession(id=uuid.uuid4(), user_id=user_id, title=title, topic=topic)
    session.add(learning_session)
    session.flush()
    return learning_session


def get(session: Session, *, user_id: uuid.UUID, session_id: uuid.UUID) -> LearningSession | None:
    """The user's session; another user's is None, like a missing one."""
    return session.execute(
        select(LearningSession)
        .where(LearningSession.id == session_id, LearningSession.user_id == user_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def touch_open(
    session: Session, *, user_id: uuid.UUID, session_id: uuid.UUID, idle_minutes: float
) -> LearningSession | None:
    """For a request made in a session: None if it is not the user's; SessionClosed if it is closed;
    else it records the activity (which keeps it open)."""
    learning_session = get(session, user_id=user_id, session_id=session_id)
    if learning_session is None:
        return None
    if not is_open(learning_session, idle_minutes=idle_minutes):
        raise SessionClosed()
    learning_session.last_activity_at = datetime.now(UTC)
    return learning_session


def end(session: Session, *, learning_session: LearningSession) -> LearningSession:
    if learning_session.ended_at is None:
        learning_session.ended_at = datetime.now(UTC)
    session.flush()
    return learning_session


def list_for(
    session: Session, *, user_id: uuid.UUID, limit: int, before: tuple[datetime, uuid.UUID] | None
) -> list[LearningSession]:
    query = select(LearningSession).where(LearningSession.user_id == user_id)
    if before is not None:
        created_at, session_id = before
        query = query.where(
            or_(
                LearningSession.created_at < created_at,
                and_(LearningSession.created_at == created_at, LearningSession.id < session_id),
            )
        )
    query = query.order_by(LearningSession.created_at.desc(), LearningSession.id.desc()).limit(limit)
    return list(session.execute(query).scalars())


def contents(
    session: Session, *, session_id: uuid.UUID
) -> tuple[list[Job], list[ProgressEvent], list[Exercise]]:
    """The jobs, progress events and exercises made in the session, oldest first."""
    jobs = session.execute(select(Job).where(Job.session_id == session_id).order_by(Job.created_at)).scalars()
    events = session.execute(
        select(ProgressEvent).where(ProgressEvent.session_id == session_id).order_by(ProgressEvent.created_at)
    ).scalars()
    exercises = session.execute(
        select(Exercise).where(Exercise.session_id == session_id).order_by(Exercise.created_at)
    ).scalars()
    return list(jobs), list(events), list(exercises)
