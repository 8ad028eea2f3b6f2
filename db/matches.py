"""Match queries: targets, matches, their score history and gaps; and the rescoring a progress event
runs in its own transaction.

Sync functions (the API calls them through `AsyncSession.run_sync`; the `match` kind and the
progress writes call them directly).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from core.matches import scoring
from core.settings import get_settings
from db.models import Chunk, Document, Match, MatchGap, MatchScore, SkillMastery, Target, User

# --- targets ------------------------------------------------------------------------------------


def create_target(
    session: Session,
    *,
    owner_id: uuid.UUID,
    title: str,
    text: str,
    source_document_id: uuid.UUID | None = None,
) -> Target:
    target = Target(owner_id=owner_id, title=title, text=text, source_document_id=source_document_id)
    session.add(target)
    session.flush()
    return target


def owned_target(session: Session, *, target_id: uuid.UUID, owner_id: uuid.UUID) -> Target | None:
    return session.scalars(select(Target).where(Target.id == target_id, Target.owner_id == owner_id)).first()


def list_targets(session: Session, *, owner_id: uuid.UUID, limit: int = 100) -> list[Target]:
    query = select(Target).where(Target.owner_id == owner_id).order_by(Target.created_at.desc()).limit(limit)
    return list(session.scalars(query))


def delete_target(session: Session, *, target: Target) -> None:
    session.delete(target)


def document_text(session: Session, *, document: Document) -> str:
    """A library document's text as its active generation's chunks hold it, in order."""
    chunks = session.scalars(
        select(Chunk.text)
        .where(Chunk.document_id == document.id, Chunk.generation == document.active_generation)
        .order_by(Chunk.position)
    )
    return "\n\n".join(chunks)


def save_requirements(
    session: Session, *, target_id: uuid.UUID, requirements: list[dict[str, Any]], extraction: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The checked requirements, once, and what the target holds after: a concurrent match that
    saved first wins, so every match against a target reads the same requirements."""
    session.execute(
        update(Target)
        .where(Target.id == target_id, Target.requirements.is_(None))
        .values(requirements=requirements, extraction=extraction)
    )
    held = session.execute(select(Target.requirements, Target.extraction).where(Target.id == target_id)).one()
    return held.requirements, held.extraction or {}


# --- matches ------------------------------------------------------------------------------------


def create_match(
    session: Session,
    *,
    match_id: uuid.UUID,
    owner_id: uuid.UUID,
    target_id: uuid.UUID,
    job_id: uuid.UUID,
    candidate_kind: str,
) -> None:
    """A match waiting for its job (flushed before it, so the row can point at it)."""
    session.add(
        Match(
            id=match_id,
            owner_id=owner_id,
            target_id=target_id,
            job_id=job_id,
            candidate_kind=candidate_kind,
            skill_keys=[],
        )
    )


def owned_match(session: Session, *, match_id: uuid.UUID, owner_id: uuid.UUID | None) -> Match | None:
    """The match, if `owner_id` owns it (None: any owner, for admins)."""
    query = select(Match).where(Match.id == match_id)
    if owner_id is not None:
        query = query.where(Match.owner_id == owner_id)
    return session.scalars(query).first()


def list_matches(session: Session, *, owner_id: uuid.UUID, limit: int = 100) -> list[tuple[Match, Target]]:
    query = (
        select(Match, Target)
        .join(Target, Target.id == Match.target_id)
        .where(Match.owner_id == owner_id)
        .order_by(Match.created_at.desc(), Match.id.desc())
        .limit(limit)
    )
    return [(match, target) for match, target in session.execute(query)]


def delete_match(session: Session, *, match: Match) -> None:
    session.delete(match)


def save_result(
    session: Session,
    *,
    match_id: uuid.UUID,
    candidate: list[dict[str, Any]],
    entries: list[dict[str, Any]],
    score: float,
) -> bool:
    """The match's first result and its first score; False when an earlier attempt saved it already
    (a job retried after its commit: its plan must not be made twice)."""
    saved = session.execute(
        update(Match)
        .where(Match.id == match_id, Match.breakdown.is_(None))
        .values(
            candidate=candidate,
            breakdown=entries,
            score=score,
            skill_keys=sorted({entry["key"] for entry in entries}),
            updated_at=func.now(),
        )
        .returning(Match.id)
    ).first()
    if saved is None:
        return False
    session.add(MatchScore(match_id=match_id, score=score, reason="computed", closed_gaps=[]))
    return True


def add_gap(
    session: Session,
    *,
    match_id: uuid.UUID,
    requirement: int,
    skill: str,
    resources_job_id: uuid.UUID | None,
    exercise_job_id: uuid.UUID | None,
) -> None:
    session.add(
        MatchGap(
            match_id=match_id,
            requirement=requirement,
            skill=skill,
            resources_job_id=resources_job_id,
            exercise_job_id=exercise_job_id,
        )
    )


def gaps(session: Session, *, match_id: uuid.UUID) -> list[MatchGap]:
    return list(
        session.scalars(select(MatchGap).where(MatchGap.match_id == match_id).order_by(MatchGap.requirement))
    )


def history(session: Session, *, match_id: uuid.UUID) -> list[MatchScore]:
    return list(
        session.scalars(select(MatchScore).where(MatchScore.match_id == match_id).order_by(MatchScore.id))
    )


def mastery_rows(session: Session, *, user_id: uuid.UUID, lock: bool = False) -> list[dict[str, Any]]:
    """The learner's BKT mastery, as the scoring reads it (`lock`: share-locked until the commit)."""
    query = select(SkillMastery.name, SkillMastery.p_known, SkillMastery.evidence).where(
        SkillMastery.user_id == user_id
    )
    rows = session.execute(query.with_for_update(read=True) if lock else query)
    return [{"name": name, "p_known": p_known, "evidence": evidence} for name, p_known, evidence in rows]


# --- rescoring ----------------------------------------------------------------------------------


# The progress path's usual case is that no match names the skills: a Core statement built once
# answers it (the ORM's entity query, built per event, was 5 % of a progress request's CPU). The
# matches it finds are locked by it, then loaded as objects.
_MATCHES_NAMING = (
    select(Match.__table__.c.id)
    .where(
        Match.__table__.c.owner_id == bindparam("owner_id"),
        Match.__table__.c.skill_keys.overlap(bindparam("keys")),
        Match.__table__.c.breakdown.is_not(None),
    )
    .order_by(Match.__table__.c.id)
    .with_for_update()
)


def rescore(session: Session, *, user_id: uuid.UUID, skills: Iterable[str]) -> int:
    """Recompute the learner's matches that name one of these skills, in the caller's transaction:
    each changed score is kept in the history, a gap whose requirement is now met is closed (and
    opened again if the mastery falls back). Returns how many matches moved.

    One indexed query when no match names the skills (the usual case on the progress path)."""
    keys = sorted({scoring.skill_key(skill) for skill in skills})
    if not keys:
        return 0
    naming = session.scalars(_MATCHES_NAMING, {"owner_id": user_id, "keys": keys}).all()
    if not naming:
        return 0
    matches = list(session.scalars(select(Match).where(Match.id.in_(naming)).order_by(Match.id)))
    mastery = mastery_rows(session, user_id=user_id)
    threshold = get_settings().match_mastery_threshold
    now = datetime.now(UTC)
    moved = 0
    for match in matches:
        old = match.breakdown
        entries = scoring.rescored(old, mastery, threshold=threshold)
        if entries == old:
            continue
        closed = [
            i for i, entry in enumerate(entries) if entry["status"] == "met" and old[i]["status"] != "met"
        ]
        opened = [
            i for i, entry in enumerate(entries) if entry["status"] != "met" and old[i]["status"] == "met"
        ]
        new_score = scoring.score(entries)
        if new_score != match.score:
            session.add(
                MatchScore(
                    match_id=match.id,
                    score=new_score,
                    reason="progress",
                    closed_gaps=[entries[i]["skill"] for i in closed],
                )
            )
            moved += 1
        match.breakdown, match.score, match.updated_at = entries, new_score, now
        if closed:
            session.execute(
                update(MatchGap)
                .where(
                    MatchGap.match_id == match.id,
                    MatchGap.requirement.in_(closed),
                    MatchGap.closed_at.is_(None),
                )
                .values(closed_at=now)
            )
        if opened:
            session.execute(
                update(MatchGap)
                .where(MatchGap.match_id == match.id, MatchGap.requirement.in_(opened))
                .values(closed_at=None)
            )
    session.flush()
    return moved


# --- admins -------------------------------------------------------------------------------------


def matches_per_user(session: Session, *, limit: int = 200) -> list[tuple[Match, Target, str]]:
    """Every match with its target and its owner's e-mail, newest first (the console's read-only view)."""
    query = (
        select(Match, Target, User.email)
        .join(Target, Target.id == Match.target_id)
        .join(User, User.id == Match.owner_id)
        .order_by(User.email, Match.created_at.desc())
        .limit(limit)
    )
    return [(match, target, email) for match, target, email in session.execute(query)]


def export(session: Session, *, owner_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """The learner's targets and matches (with each match's score history), for their data export."""
    targets = list_targets(session, owner_id=owner_id, limit=1_000_000)
    owned = list_matches(session, owner_id=owner_id, limit=1_000_000)
    return {
        "targets": [
            {
                "id": str(t.id),
                "title": t.title,
                "text": t.text,
                "requirements": t.requirements,
                "created_at": t.created_at.isoformat(),
            }
            for t in targets
        ],
        "matches": [
            {
                "id": str(m.id),
                "target_id": str(m.target_id),
                "candidate": m.candidate_kind,
                "candidate_skills": m.candidate,
                "score": m.score,
                "breakdown": m.breakdown,
                "history": [
                    {"score": p.score, "reason": p.reason, "at": p.created_at.isoformat()}
                    for p in history(session, match_id=m.id)
                ],
                "created_at": m.created_at.isoformat(),
            }
            for m, _ in owned
        ],
    }
