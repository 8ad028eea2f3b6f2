"""Account queries: the owner of a token that was not revoked, revoking one, counts for quotas, and
deleting an account with everything it owns (the `account.delete` job)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, lazyload

from core.job_status import ACTIVE
from db.models import (
    AccountMail,
    Collection,
    Document,
    Job,
    LearningSession,
    LtiAccount,
    LtiMembership,
    Match,
    MatchGap,
    MatchScore,
    Profile,
    ProgressEvent,
    ReviewCard,
    RevokedToken,
    SkillMastery,
    Target,
    User,
    VoiceProfile,
    WebhookDelivery,
)


async def token_owner(
    session: AsyncSession, *, user_id: uuid.UUID, jti: str, issued_at: datetime
) -> User | None:
    """The token's user, unless the token was revoked (logged out) or issued before the account's
    sessions were reset (a takeover by its verified owner): one query on every request."""
    revoked = exists().where(RevokedToken.jti == jti)
    still_valid = or_(User.sessions_valid_after.is_(None), User.sessions_valid_after <= issued_at)
    # The linked GitHub accounts are not needed to authorize a request: no second query for them.
    query = (
        select(User).where(User.id == user_id, ~revoked, still_valid).options(lazyload(User.oauth_accounts))
    )
    return (await session.execute(query)).scalar_one_or_none()


async def revoke_token(session: AsyncSession, *, jti: str, user_id: uuid.UUID, expires_at: datetime) -> None:
    """Refuse this token from now on (until it would have expired anyway)."""
    await session.execute(
        insert(RevokedToken).values(jti=jti, user_id=user_id, expires_at=expires_at).on_conflict_do_nothing()
    )


def delete_expired_revocations(session: Session) -> int:
    """Revocations of tokens that have expired by now (an expired token is refused anyway)."""
    return session.execute(delete(RevokedToken).where(RevokedToken.expires_at < func.now())).rowcount


async def active_jobs(session: AsyncSession, *, owner_id: uuid.UUID) -> int:
    """The user's queued and running jobs (the job quota)."""
    active = Job.status.in_(tuple(ACTIVE))
    query = select(func.count()).select_from(Job).where(Job.owner_id == owner_id, active)
    return (await session.execute(query)).scalar_one()


async def private_collections(session: AsyncSession, *, owner_id: uuid.UUID) -> int:
    """How many collections the user owns (the collection quota)."""
    query = select(func.count()).select_from(Collection).where(Collection.owner_id == owner_id)
    return (await session.execute(query)).scalar_one()


# --- the admin console ------------------------------------------------------------------------


async def user_by_email(session: AsyncSession, *, email: str) -> User | None:
    """The account with this e-mail, in any case."""
    query = (
        select(User)
        .where(func.lower(User.email) == email.strip().lower())
        .options(lazyload(User.oauth_accounts))
    )
    return (await session.execute(query)).scalar_one_or_none()


async def emails_by_id(session: AsyncSession, *, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """user id -> e-mail, for the accounts among `user_ids` (a page's owners)."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
    return dict(rows.tuples().all())


async def list_users(
    session: AsyncSession,
    *,
    email_contains: str | None,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> list[User]:
    """Accounts, newest first, optionally those whose e-mail contains a text (any case)."""
    query = select(User).options(lazyload(User.oauth_accounts))
    if email_contains:
        query = query.where(User.email.icontains(email_contains, autoescape=True))  # % and _ as typed
    if before is not None:
        created_at, user_id = before
        query = query.where(
            or_(User.created_at < created_at, and_(User.created_at == created_at, User.id < user_id))
        )
    query = query.order_by(User.created_at.desc(), User.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


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
    "targets": (Target, Target.owner_id),
    "matches": (Match, Match.owner_id),
    "account_mails": (AccountMail, AccountMail.user_id),
    "lti_accounts": (LtiAccount, LtiAccount.user_id),
    "lti_memberships": (LtiMembership, LtiMembership.user_id),
    "voice_profiles": (VoiceProfile, VoiceProfile.user_id),
}


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
    for name, model in (("match_scores", MatchScore), ("match_gaps", MatchGap)):
        counts[name] = session.execute(
            select(func.count()).select_from(model).join(Match).where(Match.owner_id == user_id)
        ).scalar_one()
    # Documents first: the largest cascade (chunks, embeddings), in its own statement.
    session.execute(delete(Document).where(Document.owner_id == user_id))
    counts["users"] = session.execute(delete(User).where(User.id == user_id)).rowcount
    return counts
