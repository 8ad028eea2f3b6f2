"""Profile queries: find or create one, save a change as a new revision, place its wiki document.

Written for a sync Session; the API calls them through `AsyncSession.run_sync`, so a revision is
saved by one piece of code whether a person edits it or an ingestion job does. Like every db
module, it creates and cancels no job: saving a revision says what its wiki needs (WikiChange),
and the caller (the profiles service, the profile_ingest task) makes the ingest job.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.profiles.fields import ProfileFields
from db.documents import upsert_document_sync
from db.models import Collection, Document, Profile, ProfileRevision, User

PROFILE_COLLECTION = "profile"  # each user's private collection holding their profile's wiki
WIKI_SOURCE_KEY = "profile:wiki"
DESCRIPTIVE_FIELDS = tuple(ProfileFields.model_fields)


@dataclass(frozen=True)
class WikiChange:
    """What a saved revision did to its wiki's document: the caller cancels `superseded_job` (the
    ingest of the wiki's old text, if one is still running) and ingests `to_ingest`."""

    to_ingest: Document | None = None
    superseded_job: uuid.UUID | None = None


class RevisionConflict(Exception):
    """The caller edited an older revision than the current one."""

    def __init__(self, current: int):
        super().__init__(f"the profile is at revision {current}")
        self.current = current


def fields_of(profile: Profile) -> dict[str, Any]:
    """The profile's descriptive fields as stored in a revision."""
    return {name: getattr(profile, name) for name in DESCRIPTIVE_FIELDS}


def snapshot(profile: Profile) -> dict[str, Any]:
    return {"username": profile.username, **fields_of(profile)}


# --- finding and creating ---------------------------------------------------------------------


def username_from(text: str) -> str:
    """A URL-safe username suggested by an e-mail's local part or an external id."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.split("@", 1)[0]).strip("-_.")[:30]
    return base if len(base) >= 3 else f"learner-{base}".strip("-")


def username_taken(session: Session, username: str) -> bool:
    query = select(Profile.id).where(func.lower(Profile.username) == username.lower())
    return session.execute(query).first() is not None


def _free_username(session: Session, wanted: str) -> str:
    candidate = wanted
    while username_taken(session, candidate):
        candidate = f"{wanted[:30]}-{secrets.token_hex(3)}"
    return candidate


def create_profile(
    session: Session,
    *,
    username: str,
    user_id: uuid.UUID | None = None,
    external_id: str | None = None,
    fields: dict[str, Any] | None = None,
    source: str = "created",
) -> Profile:
    """A new profile at revision 1 (its first revision recorded). Flushes, so a taken username or
    a second profile for the account raises IntegrityError here."""
    values = ProfileFields.model_validate(fields or {}).model_dump()
    profile = Profile(
        id=uuid.uuid4(), user_id=user_id, external_id=external_id, username=username, revision=1, **values
    )
    session.add(profile)
    session.flush()
    session.add(ProfileRevision(profile_id=profile.id, revision=1, data=snapshot(profile), source=source))
    return profile


def profile_of_user(session: Session, *, user: User, lock: bool = False) -> Profile:
    """The account's profile, made (empty, with a username from the e-mail) on first use, so an
    account registered through /auth/register or GitHub has one too."""
    query = select(Profile).where(Profile.user_id == user.id).execution_options(populate_existing=True)
    profile = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if profile is not None:
        return profile
    username = _free_username(session, username_from(user.email))
    session.execute(
        insert(Profile)
        .values(id=uuid.uuid4(), user_id=user.id, username=username, revision=1)
        .on_conflict_do_nothing()
    )
    profile = session.execute(query.with_for_update() if lock else query).scalar_one()
    session.execute(
        insert(ProfileRevision)
        .values(profile_id=profile.id, revision=1, data=snapshot(profile), source="created")
        .on_conflict_do_nothing()
    )
    return profile


def profile_by_id(session: Session, *, profile_id: uuid.UUID, lock: bool = False) -> Profile | None:
    query = select(Profile).where(Profile.id == profile_id).execution_options(populate_existing=True)
    return session.execute(query.with_for_update() if lock else query).scalar_one_or_none()


def profile_of_external(session: Session, *, external_id: str) -> Profile:
    """The profile of a person without an account (admins' ingestions), made on first use."""
    query = select(Profile).where(Profile.external_id == external_id).with_for_update()
    profile = session.execute(query).scalar_one_or_none()
    if profile is None:
        username = _free_username(session, username_from(f"ext-{external_id}"))
        profile = create_profile(session, username=username, external_id=external_id)
    return profile


# --- changing ---------------------------------------------------------------------------------


def save_revision(
    session: Session,
    *,
    profile: Profile,
    changes: dict[str, Any],
    source: str,
    expected_revision: int | None = None,
) -> tuple[Profile, WikiChange]:
    """Apply `changes` (descriptive fields and/or username) as the next revision.

    The row is locked first, so concurrent changes are serialized and each applies whole to the
    revision before it; with `expected_revision`, a change made to an older revision is refused
    (RevisionConflict). A changed wiki's document is placed in the same transaction, and what it
    needs ingested is returned for the caller to queue in that transaction too."""
    locked = profile_by_id(session, profile_id=profile.id, lock=True)
    if locked is None:
        raise LookupError("the profile was deleted")
    if expected_revision is not None and expected_revision != locked.revision:
        raise RevisionConflict(locked.revision)
    wiki_before = locked.wiki_content
    merged = {**fields_of(locked), **{k: v for k, v in changes.items() if k in DESCRIPTIVE_FIELDS}}
    for name, value in ProfileFields.model_validate(merged).model_dump().items():
        setattr(locked, name, value)
    if "username" in changes:
        locked.username = changes["username"]
    locked.revision += 1
    locked.updated_at = func.now()
    session.flush()
    session.add(
        ProfileRevision(profile_id=locked.id, revision=locked.revision, data=snapshot(locked), source=source)
    )
    wiki = WikiChange()
    if locked.wiki_content != wiki_before and locked.user_id is not None:
        wiki = place_wiki(session, profile=locked)
    session.flush()
    session.refresh(locked)
    return locked, wiki


def place_wiki(session: Session, *, profile: Profile) -> WikiChange:
    """Make the wiki the one document of the user's `profile` collection; its ingest job (the
    caller's) chunks and embeds it and flips it searchable at once (the knowledge store's
    generations). An emptied wiki removes the document, so nothing stale is retrieved."""
    assert profile.user_id is not None
    collection_id = _profile_collection(session, user_id=profile.user_id)
    if not profile.wiki_content.strip():
        existing = session.execute(
            select(Document).where(
                Document.collection_id == collection_id, Document.source_key == WIKI_SOURCE_KEY
            )
        ).scalar_one_or_none()
        profile.wiki_document_id = None
        if existing is None:
            return WikiChange()
        session.execute(delete(Document).where(Document.id == existing.id))
        return WikiChange(superseded_job=existing.ingest_job_id)
    content = profile.wiki_content.encode()
    document, action = upsert_document_sync(
        session,
        collection_id=collection_id,
        owner_id=profile.user_id,
        source_key=WIKI_SOURCE_KEY,
        content=content,
        content_hash=hashlib.sha256(content).hexdigest(),
        fields={
            "title": f"Profile of {profile.username}",
            "filename": "profile.md",
            "content_type": "text/markdown",
            "source_url": None,
            "resource_type": None,
        },
    )
    profile.wiki_document_id = document.id
    if action == "unchanged":
        return WikiChange()
    return WikiChange(to_ingest=document, superseded_job=document.ingest_job_id)


def _profile_collection(session: Session, *, user_id: uuid.UUID) -> uuid.UUID:
    session.execute(
        insert(Collection)
        .values(
            id=uuid.uuid4(),
            name=PROFILE_COLLECTION,
            owner_id=user_id,
            description="Your profile's wiki, so the assistant can retrieve what it says about you.",
        )
        .on_conflict_do_nothing()
    )
    return session.execute(
        select(Collection.id).where(Collection.owner_id == user_id, Collection.name == PROFILE_COLLECTION)
    ).scalar_one()


# --- reading ----------------------------------------------------------------------------------


def revisions(session: Session, *, profile_id: uuid.UUID) -> list[ProfileRevision]:
    query = (
        select(ProfileRevision)
        .where(ProfileRevision.profile_id == profile_id)
        .order_by(ProfileRevision.revision.desc())
    )
    return list(session.execute(query).scalars())


def revision(session: Session, *, profile_id: uuid.UUID, number: int) -> ProfileRevision | None:
    return session.get(ProfileRevision, (profile_id, number))


def list_profiles(
    session: Session, *, limit: int, before: tuple[datetime, uuid.UUID] | None, query: str | None = None
) -> list[Profile]:
    """Profiles newest first, a page at a time; `query` matches username or display name."""
    statement = select(Profile)
    if query:
        pattern = f"%{query.lower()}%"
        statement = statement.where(
            or_(func.lower(Profile.username).like(pattern), func.lower(Profile.display_name).like(pattern))
        )
    if before is not None:
        created_at, profile_id = before
        statement = statement.where(
            or_(
                Profile.created_at < created_at,
                and_(Profile.created_at == created_at, Profile.id < profile_id),
            )
        )
    statement = statement.order_by(Profile.created_at.desc(), Profile.id.desc()).limit(limit)
    return list(session.execute(statement).scalars())


def delete_external_profile(session: Session, *, profile_id: uuid.UUID) -> None:
    session.execute(delete(Profile).where(Profile.id == profile_id, Profile.user_id.is_(None)))
