"""Accounts and profiles: sign up with a profile, read and edit it (revisions, If-Match), restore,
export everything, leave; and profile ingestion from a text or a file."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi_users import InvalidPasswordException
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from api.auth import UserManager
from api.errors import ProblemError
from api.exercises.schemas import SubmissionRead, exercise_read
from api.jobs.schemas import JobRead
from api.jobs.service import job_read
from api.learning_sessions.service import session_read
from api.profiles.schemas import (
    AccountCreate,
    AccountCreated,
    AccountDeletion,
    ProfileList,
    ProfilePatch,
    ProfileRead,
    RevisionList,
    RevisionRead,
)
from api.progress.service import mastery_read, review_read
from api.quotas import check_job_quota
from api.shared import (
    Upload,
    check_person_source,
    decode_cursor,
    encode_cursor,
    get_or_404,
    open_session_for,
    require_admin,
)
from core.passwords import off_the_loop
from db import attachments, lti, matches, profiles, progress, voices, xapi
from db import learning_sessions as session_queries
from db.jobs import create_job
from db.models import (
    Collection,
    Conversation,
    ConversationMessage,
    Document,
    Exercise,
    Job,
    Profile,
    Submission,
    User,
)
from db.unit_of_work import commit_async
from tasks.account_delete.spec import SPEC as ACCOUNT_DELETE
from tasks.ingest.queue import queue_ingest
from tasks.profile_ingest.spec import SPEC as PROFILE_INGEST

# What the admin check says only admins may do here (403 admin_only).
ADMINS_ONLY = "manage other people's profiles"

EXPORT_FORMAT = "mentorq-export/1"


def profile_read(profile: Profile) -> ProfileRead:
    return ProfileRead.model_validate(profile, from_attributes=True)


def _integrity_problem(error: IntegrityError) -> ProblemError:
    text = str(error.orig)
    if "uq_profiles_username" in text:
        return ProblemError(409, "username_taken", "that username is taken")
    if "ix_users_email" in text or "users_email" in text:
        return ProblemError(409, "email_taken", "an account with that e-mail exists")
    raise error


# --- accounts ---------------------------------------------------------------------------------


async def create_account(
    session: AsyncSession, *, request: AccountCreate, user_manager: UserManager
) -> AccountCreated:
    """The account and its profile in one transaction (the original service's sign-up)."""
    email = request.email.lower()
    try:
        await user_manager.validate_password(request.password, request)
    except InvalidPasswordException as error:
        raise ProblemError(
            422,
            "weak_password",
            str(error.reason),
            errors=[{"path": "password", "message": str(error.reason)}],
        ) from None
    if (await session.execute(select(User.id).where(func.lower(User.email) == email))).first():
        raise ProblemError(409, "email_taken", "an account with that e-mail exists")
    if await session.run_sync(lambda sync: profiles.username_taken(sync, request.username)):
        raise ProblemError(409, "username_taken", "that username is taken")
    hashed_password = await off_the_loop(user_manager.password_helper.hash, request.password)
    user = User(
        id=uuid.uuid4(),
        email=email,
        hashed_password=hashed_password,
        is_active=True,
        is_superuser=False,
        is_verified=False,
    )
    session.add(user)
    try:
        await session.flush()
        await session.run_sync(
            lambda sync: profiles.create_profile(
                sync,
                username=request.username,
                user_id=user.id,
                fields={"display_name": request.display_name},
            )
        )
        await commit_async(session)
    except IntegrityError as error:  # a concurrent sign-up won the race for the e-mail or username
        await session.rollback()
        raise _integrity_problem(error) from None
    return AccountCreated(user_id=user.id, username=request.username)


async def delete_account(session: AsyncSession, *, user: User) -> AccountDeletion:
    """Refuse the account's tokens from now on, and queue the deletion of everything it owns."""
    await session.execute(update(User).where(User.id == user.id).values(is_active=False))
    job = create_job(session, ACCOUNT_DELETE, input={"user_id": str(user.id)}, owner_id=None)
    await commit_async(session)
    return AccountDeletion(job_id=job.id)


# --- the profile ------------------------------------------------------------------------------


async def my_profile(session: AsyncSession, *, user: User) -> Profile:
    profile = await session.run_sync(lambda sync: profiles.profile_of_user(sync, user=user))
    await commit_async(session)  # it may have just been made
    return profile


def _save_and_reingest(
    sync: Session, *, profile: Profile, changes: dict[str, Any], source: str, expected: int | None
) -> Profile:
    saved, wiki = profiles.save_revision(
        sync, profile=profile, changes=changes, source=source, expected_revision=expected
    )
    queue_ingest(sync, document=wiki.to_ingest, superseded=wiki.superseded_job)
    return saved


async def change_profile(
    session: AsyncSession, *, profile: Profile, changes: dict[str, Any], source: str, expected: int | None
) -> Profile:
    """Save the next revision; a stale `expected` revision is 412, a taken username 409."""
    try:
        saved = await session.run_sync(
            lambda sync: _save_and_reingest(
                sync, profile=profile, changes=changes, source=source, expected=expected
            )
        )
        await commit_async(session)
    except profiles.RevisionConflict as conflict:
        await session.rollback()
        raise ProblemError(
            412,
            "revision_conflict",
            f"the profile changed since revision {expected} (it is at {conflict.current}); reload and retry",
            headers={"ETag": f'"{conflict.current}"'},
        ) from None
    except IntegrityError as error:
        await session.rollback()
        raise _integrity_problem(error) from None
    return saved


def patch_changes(patch: ProfilePatch) -> dict[str, Any]:
    try:
        return patch.changes()
    except ValueError as error:
        raise ProblemError(422, "invalid_input", str(error)) from None


async def revisions(session: AsyncSession, *, profile: Profile) -> RevisionList:
    found = await session.run_sync(lambda sync: profiles.revisions(sync, profile_id=profile.id))
    return RevisionList(items=[RevisionRead.model_validate(r, from_attributes=True) for r in found])


async def restore(session: AsyncSession, *, profile: Profile, number: int) -> Profile:
    """A new revision with the descriptive fields of revision `number` (the username stays)."""
    old = await session.run_sync(lambda sync: profiles.revision(sync, profile_id=profile.id, number=number))
    if old is None:
        raise ProblemError(404, "revision_not_found", f"the profile has no revision {number}")
    changes = {k: v for k, v in old.data.items() if k in profiles.DESCRIPTIVE_FIELDS}
    return await change_profile(
        session, profile=profile, changes=changes, source=f"restore:{number}", expected=None
    )


async def export(session: AsyncSession, *, user: User) -> dict[str, Any]:
    """Everything the platform holds about the user, as one JSON document (a right of access)."""

    def collect(sync) -> dict[str, Any]:
        profile = profiles.profile_of_user(sync, user=user)
        documents = sync.execute(
            select(Document, Collection.name)
            .join(Collection, Collection.id == Document.collection_id)
            .where(Document.owner_id == user.id)
            .order_by(Document.created_at)
        ).all()
        jobs = sync.execute(select(Job).where(Job.owner_id == user.id).order_by(Job.created_at)).scalars()
        # Exercises made for the user (as they see them: no keys) and every answer they gave.
        exercises = sync.execute(
            select(Exercise).where(Exercise.owner_id == user.id).order_by(Exercise.created_at)
        ).scalars()
        submissions = sync.execute(
            select(Submission).where(Submission.user_id == user.id).order_by(Submission.created_at)
        ).scalars()
        events = progress.timeline(sync, user_id=user.id, limit=1_000_000)
        conversations = sync.execute(
            select(Conversation).where(Conversation.owner_id == user.id).order_by(Conversation.created_at)
        ).scalars()
        messages = sync.execute(
            select(ConversationMessage)
            .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
            .where(Conversation.owner_id == user.id)
            .order_by(ConversationMessage.id)
        ).scalars()
        by_conversation: dict[Any, list[dict[str, Any]]] = {}
        for message in messages:
            by_conversation.setdefault(message.conversation_id, []).append(
                {
                    "role": message.role,
                    "content": message.content,
                    "citations": message.citations,
                    "grounded": message.grounded,
                    "created_at": message.created_at.isoformat(),
                }
            )
        return {
            "format": EXPORT_FORMAT,
            "account": {
                "id": str(user.id),
                "email": user.email,
                "is_verified": user.is_verified,
                "created_at": user.created_at.isoformat(),
            },
            "profile": profile_read(profile).model_dump(mode="json"),
            "revisions": [
                RevisionRead.model_validate(r, from_attributes=True).model_dump(mode="json")
                for r in profiles.revisions(sync, profile_id=profile.id)
            ],
            "progress": {
                "events": [
                    {
                        k: getattr(e, k)
                        for k in ("completed_task", "skills", "score", "correct", "duration_s", "notes")
                    }
                    | {"id": str(e.id), "session_id": str(e.session_id) if e.session_id else None}
                    | {"created_at": e.created_at.isoformat()}
                    for e in events
                ],
                "mastery": [
                    mastery_read(m).model_dump(mode="json") for m in progress.mastery(sync, user_id=user.id)
                ],
                "review_cards": [
                    review_read(card).model_dump(mode="json") | {"card": card.card}
                    for card in progress.review_cards(sync, user_id=user.id)
                ],
            },
            "sessions": [
                session_read(s).model_dump(mode="json")
                for s in session_queries.list_for(sync, user_id=user.id, limit=1_000_000, before=None)
            ],
            "documents": [
                {
                    "id": str(document.id),
                    "collection": collection,
                    "title": document.title,
                    "filename": document.filename,
                    "source_url": document.source_url,
                    "format": document.format,
                    "status": document.status,
                    "chunk_count": document.chunk_count,
                    "byte_size": document.byte_size,
                    "created_at": document.created_at.isoformat(),
                }
                for document, collection in documents
            ],
            "exercises": [exercise_read(exercise).model_dump(mode="json") for exercise in exercises],
            "submissions": [
                SubmissionRead.model_validate(row, from_attributes=True).model_dump(mode="json")
                | {"answer": row.answer}
                for row in submissions
            ],
            **matches.export(sync, owner_id=user.id),
            **lti.export(sync, user_id=user.id),
            **xapi.export(sync, user_id=user.id),
            **voices.export(sync, user_id=user.id),
            "conversations": [
                {
                    "id": str(c.id),
                    "title": c.title,
                    "created_at": c.created_at.isoformat(),
                    "messages": by_conversation.get(c.id, []),
                }
                for c in conversations
            ],
            "jobs": [job_read(job).model_dump(mode="json") for job in jobs],
        }

    document = await session.run_sync(collect)
    await commit_async(session)
    return document


# --- ingestion --------------------------------------------------------------------------------


async def ingest(
    session: AsyncSession,
    *,
    user: User,
    upload: Upload,
    source_kind: str,
    user_email: str | None,
    external_id: str | None,
    session_id: uuid.UUID | None,
) -> JobRead:
    """Check the source, keep its bytes beside a new `profile_ingest` job, and queue it."""
    check_person_source(upload, what="source")
    target: dict[str, Any] = {"user_id": str(user.id)}
    if user_email is not None or external_id is not None:
        require_admin(user, to="ingest a profile for someone else")
        if user_email is not None and external_id is not None:
            raise ProblemError(422, "invalid_input", "give user_email or external_id, not both")
        if user_email is not None:
            owner = (
                await session.execute(select(User).where(func.lower(User.email) == user_email.lower()))
            ).scalar_one_or_none()
            if owner is None:
                raise ProblemError(404, "user_not_found", "no account has that e-mail")
            target = {"user_id": str(owner.id)}
        else:
            target = {"external_id": external_id}
    session_id = await open_session_for(session, user=user, session_id=session_id)
    await check_job_quota(session, user=user)
    source = {
        "kind": source_kind,
        "filename": upload.filename,
        "content_type": upload.content_type,
        "bytes": len(upload.content),
    }
    job = create_job(
        session, PROFILE_INGEST, input={**target, "source": source}, owner_id=user.id, session_id=session_id
    )
    await session.run_sync(
        lambda sync: attachments.attach(
            sync,
            job_id=job.id,
            content=upload.content,
            filename=upload.filename,
            content_type=upload.content_type,
        )
    )
    await commit_async(session)
    return job_read(job)


# --- admins -----------------------------------------------------------------------------------


async def admin_list(
    session: AsyncSession, *, limit: int, cursor: str | None, query: str | None
) -> ProfileList:
    before = decode_cursor(cursor) if cursor else None
    found = await session.run_sync(
        lambda sync: profiles.list_profiles(sync, limit=limit + 1, before=before, query=query)
    )
    page, more = found[:limit], len(found) > limit
    return ProfileList(
        items=[profile_read(p) for p in page], next_cursor=encode_cursor(page[-1]) if more else None
    )


async def admin_profile(session: AsyncSession, *, profile_id: str) -> Profile:
    return await get_or_404(
        profile_id,
        lambda parsed: session.run_sync(lambda sync: profiles.profile_by_id(sync, profile_id=parsed)),
        code="profile_not_found",
        detail="no such profile",
    )


async def admin_delete(session: AsyncSession, *, profile: Profile) -> AccountDeletion | None:
    """An account's profile goes with its account (the deletion job); a person without one at once."""
    if profile.user_id is not None:
        owner = await session.get(User, profile.user_id)
        return await delete_account(session, user=owner)
    await session.run_sync(lambda sync: profiles.delete_external_profile(sync, profile_id=profile.id))
    await commit_async(session)
    return None
