"""Progress: record an event (the learner model updated in the same transaction, an insight job
queued), and read the timeline, mastery, reviews due, streak and latest insight."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from api.jobs.schemas import JobRead
from api.jobs.service import job_read
from api.progress.schemas import (
    InsightRead,
    MasteryRead,
    ProgressCreate,
    ProgressEventRead,
    ProgressRead,
    ProgressRecorded,
    ReviewRead,
)
from api.shared import decode_cursor, encode_cursor, open_session_for
from core.profiles.fields import dedupe
from core.progress.learner_model import bkt_parameters
from db import progress
from db.jobs import create_job
from db.models import ReviewCard, SkillMastery, User
from db.unit_of_work import commit_async
from tasks.progress_insight.spec import SPEC as INSIGHT

MASTERED_AT = 0.95


def mastery_read(row: SkillMastery) -> MasteryRead:
    return MasteryRead(
        skill=row.name,
        p_known=round(row.p_known, 4),
        evidence=row.evidence,
        correct=row.correct,
        mastered=row.p_known >= MASTERED_AT,
    )


def review_read(card: ReviewCard) -> ReviewRead:
    return ReviewRead(item=card.item_key, label=card.label, due=card.due, reviews=card.reviews)


async def record(session: AsyncSession, *, user: User, request: ProgressCreate) -> ProgressRecorded:
    if request.user_id is not None and request.user_id != user.id:
        raise ProblemError(403, "not_your_progress", "progress is recorded for the signed-in user only")
    try:
        skills = dedupe(skill.strip() for skill in request.skills if skill.strip())
    except ValueError as error:
        raise ProblemError(
            422, "invalid_input", str(error), errors=[{"path": "skills", "message": str(error)}]
        ) from None
    session_id = await open_session_for(session, user=user, session_id=request.session_id)
    params = bkt_parameters()

    def work(sync):
        recorded = progress.record_progress(
            sync,
            user_id=user.id,
            completed_task=request.completed_task.strip(),
            skills=skills,
            score=request.score,
            duration_s=request.duration_s,
            notes=request.notes,
            session_id=session_id,
            params=params,
        )
        # One queued insight per learner: it reads the newest state when it runs, so a burst of
        # events costs one LLM call, and the learner's active jobs stay bounded.
        job = progress.queued_insight(sync, user_id=user.id, kind=INSIGHT.name) or create_job(
            sync, INSIGHT, input={"user_id": str(user.id)}, owner_id=user.id, session_id=session_id
        )
        return recorded, job

    recorded, job = await session.run_sync(work)
    await commit_async(session)
    return ProgressRecorded(
        event=ProgressEventRead.model_validate(recorded.event, from_attributes=True),
        mastery=[mastery_read(row) for row in recorded.mastery],
        review=review_read(recorded.card),
        job=job_read(job),
    )


async def request_insight(session: AsyncSession, *, user: User) -> JobRead:
    """An insight now (the queued one if there is one); useful before any progress too."""

    def work(sync):
        return progress.queued_insight(sync, user_id=user.id, kind=INSIGHT.name) or create_job(
            sync, INSIGHT, input={"user_id": str(user.id)}, owner_id=user.id
        )

    job = await session.run_sync(work)
    await commit_async(session)
    return job_read(job)


async def read(session: AsyncSession, *, user: User, limit: int, cursor: str | None) -> ProgressRead:
    before = decode_cursor(cursor) if cursor else None

    def load(sync):
        return (
            progress.timeline(sync, user_id=user.id, limit=limit + 1, before=before),
            progress.mastery(sync, user_id=user.id),
            progress.due_reviews(sync, user_id=user.id),
            progress.streak_days(sync, user_id=user.id),
            progress.latest_insight(sync, user_id=user.id, kind=INSIGHT.name),
        )

    events, mastery, due, streak, insight = await session.run_sync(load)
    page, more = events[:limit], len(events) > limit
    return ProgressRead(
        timeline=[ProgressEventRead.model_validate(event, from_attributes=True) for event in page],
        next_cursor=encode_cursor(page[-1]) if more else None,
        mastery=[mastery_read(row) for row in mastery],
        reviews_due=[review_read(card) for card in due],
        streak_days=streak,
        latest_insight=InsightRead(
            job_id=insight.id, completed_at=insight.completed_at, insight=insight.output
        )
        if insight is not None
        else None,
    )
