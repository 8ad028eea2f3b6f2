"""Progress queries: record an event and update the learner model in one transaction; read it all back.

Sync functions (the API calls them through `AsyncSession.run_sync`; workers call them directly).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from core.profiles.fields import normalize_name
from core.progress.learner_model import (
    BKTParameters,
    bkt_likelihoods,
    bkt_update,
    is_correct,
    new_card,
    review,
)
from db import matches
from db.models import Job, ProgressEvent, ReviewCard, SkillMastery


@dataclass
class Recorded:
    """What one event changed, as plain rows (attribute access like the ORM classes')."""

    event: Row[Any]
    mastery: list[Row[Any]]
    card: Row[Any]


def task_key(completed_task: str) -> str:
    return "task:" + normalize_name(completed_task)[:290]


# Built once, the values given at execution (sqlalchemy.insert, not the dialect's: see
# _MASTERY_UPSERT).
_EVENT_RECORDED = insert(ProgressEvent.__table__).returning(*ProgressEvent.__table__.columns)


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

    Core statements, not ORM units of work: this is the hottest write path of a learning site (every
    answer, every completed task), and three or four round trips with no object building keep it
    cheap (benchmarks/progress_latency.py)."""
    correct = is_correct(score)
    now = datetime.now(UTC)
    event = session.execute(
        _EVENT_RECORDED,
        {
            "id": uuid.uuid4(),
            "user_id": user_id,
            "session_id": session_id,
            "completed_task": completed_task,
            "skills": skills,
            "score": score,
            "correct": correct,
            "duration_s": duration_s,
            "notes": notes,
        },
    ).one()
    mastery = _update_mastery(
        session, user_id=user_id, skills=skills, correct=correct, params=params, now=now
    )
    # A match that names one of these skills moves with them (its gaps close as they are mastered).
    matches.rescore(session, user_id=user_id, skills=skills)
    card = _review_card(
        session,
        user_id=user_id,
        key=item_key or task_key(completed_task),
        label=completed_task,
        correct=correct,
        now=now,
    )
    return Recorded(event=event, mastery=mastery, card=card)


# Text, not a dialect `insert(...).on_conflict_do_update()`: SQLAlchemy cannot cache that construct
# and would compile it again on every event (a fifth of this request's CPU, measured with py-spy).
_MASTERY_UPSERT = text(
    """
    INSERT INTO skill_mastery AS m (user_id, skill, name, p_known, evidence, correct, updated_at)
    SELECT :user_id, s.skill, s.name, :first_p_known, 1, :correct, :now
    FROM unnest(CAST(:skills AS varchar[]), CAST(:names AS text[])) AS s(skill, name)
    ORDER BY s.skill
    ON CONFLICT (user_id, skill) DO UPDATE SET
        -- core.progress.learner_model.bkt_update on the locked row
        p_known = :learn + (1 - :learn) * m.p_known * :if_known
            / (m.p_known * :if_known + (1 - m.p_known) * :if_unknown),
        evidence = m.evidence + 1,
        correct = m.correct + :correct,
        updated_at = :now
    RETURNING m.user_id, m.skill, m.name, m.p_known, m.evidence, m.correct, m.updated_at
    """
)


def _update_mastery(
    session: Session,
    *,
    user_id: uuid.UUID,
    skills: list[str],
    correct: bool,
    params: BKTParameters,
    now: datetime,
) -> list[Row[Any]]:
    """One upsert for every skill: a new skill starts from the prior, a known one is updated in place.

    PostgreSQL computes the update from the row it has locked, so two concurrent events of one
    learner apply one after the other and never overwrite each other. Rows go in skill order, so
    two events touching the same skills lock them in the same order and cannot deadlock."""
    names = {normalize_name(skill)[:100]: skill for skill in skills}
    if not names:
        return []
    keys = sorted(names)
    if_known, if_unknown = bkt_likelihoods(correct, params)
    rows = session.execute(
        _MASTERY_UPSERT,
        {
            "user_id": user_id,
            "skills": keys,
            "names": [names[key] for key in keys],
            "first_p_known": bkt_update(params.prior, correct, params),
            "correct": int(correct),
            "now": now,
            "learn": params.learn,
            "if_known": if_known,
            "if_unknown": if_unknown,
        },
    ).all()
    return sorted(rows, key=lambda row: row.skill)


# The review card's three statements, built once: built per event, SQLAlchemy keyed each one
# again, and the dialect's INSERT ... ON CONFLICT on the ORM class went through the ORM's bulk
# insert path and was compiled again every time (15 % of a progress request's CPU, py-spy on
# benchmarks.progress_latency).
_CARDS = ReviewCard.__table__
_CARD_LOCKED = (
    select(_CARDS.c.card)
    .where(_CARDS.c.user_id == bindparam("owner"), _CARDS.c.item_key == bindparam("item"))
    .with_for_update()
)
_CARD_CREATED = text(
    """
    INSERT INTO review_cards (user_id, item_key, label, card, due, reviews, updated_at)
    VALUES (:owner, :item, :named, :state, :next_due, 1, :at)
    ON CONFLICT DO NOTHING
    RETURNING user_id, item_key, label, card, due, reviews, updated_at
    """
).bindparams(bindparam("state", type_=JSONB))
_CARD_REVIEWED = (
    update(_CARDS)
    .where(_CARDS.c.user_id == bindparam("owner"), _CARDS.c.item_key == bindparam("item"))
    .values(
        card=bindparam("state", type_=JSONB),
        due=bindparam("next_due"),
        reviews=_CARDS.c.reviews + 1,
        label=bindparam("named"),
        updated_at=bindparam("at"),
    )
    .returning(*_CARDS.columns)
)


def _review_card(
    session: Session, *, user_id: uuid.UUID, key: str, label: str, correct: bool, now: datetime
) -> Row[Any]:
    """The task's FSRS card, reviewed once (created on its first review). FSRS runs in Python, so the
    card is read under a row lock first."""
    where = {"owner": user_id, "item": key}
    found = session.execute(_CARD_LOCKED, where).one_or_none()
    if found is None:
        state, due = review(new_card(), correct, now)
        created = session.execute(
            _CARD_CREATED, where | {"named": label, "state": state, "next_due": due, "at": now}
        ).one_or_none()
        if created is not None:
            return created
        # Another event of this learner created the card first: review that one.
        return _review_card(session, user_id=user_id, key=key, label=label, correct=correct, now=now)
    state, due = review(found.card, correct, now)
    return session.execute(
        _CARD_REVIEWED, where | {"named": label, "state": state, "next_due": due, "at": now}
    ).one()


# Built once: its clauses, built per event, were half of this lookup's CPU.
_QUEUED_OF_KIND = (
    select(Job)
    .where(Job.owner_id == bindparam("owner"), Job.kind == bindparam("kind"), Job.status == "queued")
    .limit(1)
)


def queued_insight(session: Session, *, user_id: uuid.UUID, kind: str) -> Job | None:
    """A `kind` (progress_insight) job of the user's that has not started: it will read the newest state, so a
    burst of events shares it instead of queueing one LLM job per event."""
    return session.execute(_QUEUED_OF_KIND, {"owner": user_id, "kind": kind}).scalar_one_or_none()


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


def review_cards(session: Session, *, user_id: uuid.UUID) -> list[ReviewCard]:
    """Every card of the learner, due or not (the export)."""
    query = select(ReviewCard).where(ReviewCard.user_id == user_id).order_by(ReviewCard.due)
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


def latest_insight(session: Session, *, user_id: uuid.UUID, kind: str) -> Job | None:
    return session.execute(
        select(Job)
        .where(Job.owner_id == user_id, Job.kind == kind, Job.status == "succeeded")
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
