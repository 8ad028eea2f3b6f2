"""Progress queries: record an event and update the learner model in one transaction; read it all back.

Sync functions (the API calls them through `AsyncSession.run_sync`; workers call them directly).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.learner_model import BKTParameters, bkt_update, is_correct, new_card, review
from core.profile_fields import normalize_name
from db.models import Job, ProgressEvent, ReviewCard, SkillMastery

INSIGHT_KIND = "progress_insight"


@dataclass
class Recorded:
    event: ProgressEvent
    mastery: list[SkillMastery]
    card: ReviewCard


def task_key(completed_task: str) -> str:
    return "task:" + normalize_name(completed_task)[:290]


def record_progress(
    session: Session,
    *,
    user_id: uuid.UUID,
    completed_task: str,
    skills: list[str],
    score: float | None,
    duration_s: float | None,
    notes: str | None,
    session_id: uuid.UUID | None,
    params: BKTParameters,
    item_key: str | None = None,
) -> Recorded:
    """The event, each skill's BKT update and the task's review card, in the caller's transaction.

    Mastery rows are locked in skill order, so two events of one learner touching the same skills
    queue behind each other instead of deadlocking or losing an update."""
    correct = is_correct(score)
    now = datetime.now(UTC)
    event = ProgressEvent(
        id=uuid.uuid4(),
        user_id=user_id,
        session_id=session_id,
        completed_task=completed_task,
        skills=skills,
        score=score,
        correct=correct,
        duration_s=duration_s,
        notes=notes,
    )
    session.add(event)
    names = {normalize_name(skill)[:100]: skill for skill in skills}
    mastery: list[SkillMastery] = []
    if names:
        session.execute(
            insert(SkillMastery)
            .values(
                [
                    {
                        "user_id": user_id,
                        "skill": key,
                        "name": name,
                        "p_known": params.prior,
                        "evidence": 0,
                        "correct": 0,
                    }
                    for key, name in sorted(names.items())
                ]
            )
            .on_conflict_do_nothing()
        )
        rows = session.execute(
            select(SkillMastery)
            .where(SkillMastery.user_id == user_id, SkillMastery.skill.in_(sorted(names)))
            .order_by(SkillMastery.skill)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalars()
        for row in rows:
            row.p_known = bkt_update(row.p_known, correct, params)
            row.evidence += 1
            row.correct += int(correct)
            row.updated_at = now
            mastery.append(row)
    card = _review_card(
        session,
        user_id=user_id,
        key=item_key or task_key(completed_task),
        label=completed_task,
        correct=correct,
        now=now,
    )
    session.flush()
    return Recorded(event=event, mastery=mastery, card=card)


def _review_card(
    session: Session, *, user_id: uuid.UUID, key: str, label: str, correct: bool, now: datetime
) -> ReviewCard:
    card = session.execute(
        select(ReviewCard)
        .where(ReviewCard.user_id == user_id, ReviewCard.item_key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if card is None:
        state, due = review(new_card(), correct, now)
        session.execute(
            insert(ReviewCard)
            .values(
                user_id=user_id, item_key=key, label=label, card=state, due=due, reviews=0, updated_at=now
            )
            .on_conflict_do_nothing()
        )
        card = session.execute(
            select(ReviewCard)
            .where(ReviewCard.user_id == user_id, ReviewCard.item_key == key)
            .with_for_update()
        ).scalar_one()
        if card.reviews > 0:  # another event created it first: review that one
            return _review_card(session, user_id=user_id, key=key, label=label, correct=correct, now=now)
        card.reviews = 1
        return card
    card.card, card.due = review(card.card, correct, now)
    card.reviews += 1
    card.label = label
    card.updated_at = now
    return card


def queued_insight(session: Session, *, user_id: uuid.UUID) -> Job | None:
    """A progress_insight job of the user's that has not started: it will read the newest state, so a
    burst of events shares it instead of queueing one LLM job per event."""
    return session.execute(
        select(Job).where(Job.owner_id == user_id, Job.kind == INSIGHT_KIND, Job.status == "queued").limit(1)
    ).scalar_one_or_none()


# --- reading ----------------------------------------------------------------------------------


def timeline(
    session: Session, *, user_id: uuid.UUID, limit: int, before: tuple[datetime, uuid.UUID] | None = None
) -> list[ProgressEvent]:
    query = select(ProgressEvent).where(ProgressEvent.user_id == user_id)
    if before is not None:
        created_at, event_id = before
        query = query.where(
            or_(
                ProgressEvent.created_at < created_at,
                and_(ProgressEvent.created_at == created_at, ProgressEvent.id < event_id),
            )
        )
    query = query.order_by(ProgressEvent.created_at.desc(), ProgressEvent.id.desc()).limit(limit)
    return list(session.execute(query).scalars())


def mastery(session: Session, *, user_id: uuid.UUID) -> list[SkillMastery]:
    """Every skill of the learner, weakest first."""
    query = (
        select(SkillMastery)
        .where(SkillMastery.user_id == user_id)
        .order_by(SkillMastery.p_known, SkillMastery.skill)
    )
    return list(session.execute(query).scalars())


def due_reviews(session: Session, *, user_id: uuid.UUID, limit: int = 50) -> list[ReviewCard]:
    query = (
        select(ReviewCard)
        .where(ReviewCard.user_id == user_id, ReviewCard.due <= func.now())
        .order_by(ReviewCard.due)
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def streak_days(session: Session, *, user_id: uuid.UUID, today: date | None = None) -> int:
    """Consecutive UTC days with progress, ending today (or yesterday: today is not over yet)."""
    days = session.execute(
        text(
            """
            SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date AS day FROM progress_events
            WHERE user_id = :user_id ORDER BY day DESC LIMIT 3660
            """
        ),
        {"user_id": user_id},
    ).scalars()
    return count_streak(list(days), today or datetime.now(UTC).date())


def count_streak(days_newest_first: list[date], today: date) -> int:
    if not days_newest_first or days_newest_first[0] < today - timedelta(days=1):
        return 0
    streak, expected = 0, days_newest_first[0]
    for day in days_newest_first:
        if day != expected:
            break
        streak += 1
        expected = day - timedelta(days=1)
    return streak


def latest_insight(session: Session, *, user_id: uuid.UUID) -> Job | None:
    return session.execute(
        select(Job)
        .where(Job.owner_id == user_id, Job.kind == INSIGHT_KIND, Job.status == "succeeded")
        .order_by(Job.completed_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def recent_events(session: Session, *, user_id: uuid.UUID, limit: int = 30) -> list[dict[str, Any]]:
    """The newest events as plain data (for the insight prompt)."""
    return [
        {
            "task": event.completed_task,
            "skills": event.skills,
            "score": event.score,
            "correct": event.correct,
            "at": event.created_at.date().isoformat(),
        }
        for event in timeline(session, user_id=user_id, limit=limit)
    ]
