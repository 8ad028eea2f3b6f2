"""Deleting an account and everything it owns (the `account.delete` job's queries)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from db.jobs import cancel_active_jobs_of
from db.models import (
    Collection,
    Document,
    Job,
    LearningSession,
    Profile,
    ProgressEvent,
    ReviewCard,
    SkillMastery,
    User,
    WebhookDelivery,
)

# What the account owns, counted for the deletion's record. Everything else it owns (chunks and
# embeddings of its documents, job events, webhook attempts and secrets, revisions, revoked
# tokens, OAuth links) goes by ON DELETE CASCADE with these rows.
OWNED = {
    "documents": (Document, Document.owner_id),
    "collections": (Collection, Collection.owner_id),
    "jobs": (Job, Job.owner_id),
    "progress_events": (ProgressEvent, ProgressEvent.user_id),
    "learning_sessions": (LearningSession, LearningSession.user_id),
    "skills": (SkillMastery, SkillMastery.user_id),
    "review_cards": (ReviewCard, ReviewCard.user_id),
    "profiles": (Profile, Profile.user_id),
}


def cancel_jobs(session: Session, *, user_id: uuid.UUID) -> int:
    """First, in its own transaction: running workers see `canceled` and stop at their next check."""
    return len(cancel_active_jobs_of(session, owner_id=user_id))


def delete_account(session: Session, *, user_id: uuid.UUID) -> dict[str, int]:
    """Delete the user row and, by cascade, all it owns; returns what was counted before."""
    counts = {
        name: session.execute(select(func.count()).select_from(model).where(column == user_id)).scalar_one()
        for name, (model, column) in OWNED.items()
    }
    counts["webhook_deliveries"] = session.execute(
        select(func.count())
        .select_from(WebhookDelivery)
        .join(Job, Job.id == WebhookDelivery.job_id)
        .where(Job.owner_id == user_id)
    ).scalar_one()
    # Documents first: the largest cascade (chunks, embeddings), in its own statement.
    session.execute(delete(Document).where(Document.owner_id == user_id))
    counts["users"] = session.execute(delete(User).where(User.id == user_id)).rowcount
    return counts
