"""Voice profiles' queries: enrol, list, read, export, delete; the enrolled voices a transcribe
worker names speakers with (the deployment-wide ones, and the recording's course's)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from core import voice_names
from db.models import Collection, JobAttachment, LtiMembership, User, VoiceClip, VoiceProfile


def create_profile(
    session: Session,
    *,
    name: str,
    role: str,
    encoder: str,
    user_id: uuid.UUID | None,
    course_id: uuid.UUID | None,
    enrolled_by: uuid.UUID | None,
    clips: list[dict[str, Any]],
) -> VoiceProfile:
    """A profile, deployment-wide or the course's, with its clips ({filename, voiced_s, embedding, audio})."""
    profile = VoiceProfile(
        name=name, role=role, encoder=encoder, user_id=user_id, course_id=course_id, enrolled_by=enrolled_by
    )
    session.add(profile)
    session.flush()
    session.add_all(VoiceClip(profile_id=profile.id, position=i, **clip) for i, clip in enumerate(clips))
    return profile


def name_taken(
    session: Session, *, name: str, course_id: uuid.UUID | None = None, other_than: uuid.UUID | None = None
) -> bool:
    """Whether a profile among the deployment-wide ones (or the course's), `other_than` aside (the
    one being renamed), has that name already (names are compared without regard to case)."""
    found = select(VoiceProfile.id).where(
        func.lower(VoiceProfile.name) == name.lower(), VoiceProfile.course_id.is_not_distinct_from(course_id)
    )
    if other_than is not None:
        found = found.where(VoiceProfile.id != other_than)
    return session.execute(found.limit(1)).first() is not None


def confusable_name(
    session: Session, *, name: str, course_id: uuid.UUID | None = None, other_than: uuid.UUID | None = None
) -> str | None:
    """The name of a profile in the same scope (deployment-wide, or the course's), `other_than`
    aside, that `name` could pass for in a transcript (the same TR39 skeleton: core/voice_names.py),
    or None."""
    names = select(VoiceProfile.name).where(VoiceProfile.course_id.is_not_distinct_from(course_id))
    if other_than is not None:
        names = names.where(VoiceProfile.id != other_than)
    return voice_names.confusable(name, list(session.execute(names).scalars()))


def rename_profile(session: Session, *, profile_id: uuid.UUID, name: str) -> None:
    """Give the profile another name (checked by the caller under lock_names)."""
    session.execute(update(VoiceProfile).where(VoiceProfile.id == profile_id).values(name=name))


def lock_names(session: Session, *, course_id: uuid.UUID | None = None) -> None:
    """Hold the scope's names (deployment-wide, or the course's) until the transaction ends: two
    enrolments in one scope then check and insert their names one after the other."""
    scope = f"voice-names:{course_id or 'deployment'}"
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:scope, 0))"), {"scope": scope})


def may_link(session: Session, *, user_id: uuid.UUID, course_id: uuid.UUID | None) -> bool:
    """Whether a profile may be linked to the account: any account for a deployment-wide profile,
    a member of the course for a course's (its instructors link their own people, nobody else)."""
    if course_id is None:
        return session.get(User, user_id) is not None
    member = select(LtiMembership.user_id).where(
        LtiMembership.context_id == course_id, LtiMembership.user_id == user_id
    )
    return session.execute(member).first() is not None


def list_profiles(session: Session, *, course_id: uuid.UUID | None = None) -> list[tuple[VoiceProfile, int]]:
    """Every profile (or the course's) with its clip count, by name."""
    counts = (
        select(VoiceClip.profile_id, func.count().label("clips")).group_by(VoiceClip.profile_id).subquery()
    )
    query = select(VoiceProfile, func.coalesce(counts.c.clips, 0)).outerjoin(
        counts, counts.c.profile_id == VoiceProfile.id
    )
    if course_id is not None:
        query = query.where(VoiceProfile.course_id == course_id)
    rows = session.execute(query.order_by(VoiceProfile.name)).all()
    return [(profile, int(clips)) for profile, clips in rows]


def get_profile(session: Session, *, profile_id: uuid.UUID) -> VoiceProfile | None:
    return session.get(VoiceProfile, profile_id)


def clips_of(session: Session, *, profile_id: uuid.UUID) -> list[VoiceClip]:
    """A profile's clips in the order they were sent."""
    return list(
        session.execute(
            select(VoiceClip).where(VoiceClip.profile_id == profile_id).order_by(VoiceClip.position)
        ).scalars()
    )


def delete_profile(session: Session, *, profile_id: uuid.UUID) -> bool:
    """Delete the profile and its clips; whether there was one."""
    return session.execute(delete(VoiceProfile).where(VoiceProfile.id == profile_id)).rowcount > 0


def enrolled(
    session: Session, *, encoder: str, collection_id: uuid.UUID
) -> list[tuple[VoiceProfile, list[list[float]]]]:
    """The profiles of that encoder a recording in the collection may be named after, with their
    clips' embeddings (a handful of rows: people, not clips): the deployment-wide ones and, when the
    collection belongs to a course, that course's; never another course's (its members' personal data)."""
    course = select(Collection.course_id).where(Collection.id == collection_id).scalar_subquery()
    embeddings: dict[uuid.UUID, list[list[float]]] = {}
    for profile_id, embedding in session.execute(
        select(VoiceClip.profile_id, VoiceClip.embedding)
        .join(VoiceProfile, VoiceProfile.id == VoiceClip.profile_id)
        .where(
            VoiceProfile.encoder == encoder,
            or_(VoiceProfile.course_id.is_(None), VoiceProfile.course_id == course),
        )
        .order_by(VoiceClip.profile_id, VoiceClip.position)
    ):
        embeddings.setdefault(profile_id, []).append(list(embedding))
    profiles = session.execute(select(VoiceProfile).where(VoiceProfile.id.in_(list(embeddings)))).scalars()
    return [(profile, embeddings[profile.id]) for profile in profiles]


def profile_json(session: Session, profile: VoiceProfile) -> dict[str, Any]:
    """The profile as its export holds it: who, the role, when, and each clip's embedding."""
    clips = clips_of(session, profile_id=profile.id)
    return {
        "id": str(profile.id),
        "name": profile.name,
        "role": profile.role,
        "encoder": profile.encoder,
        "user_id": str(profile.user_id) if profile.user_id else None,
        "course_id": str(profile.course_id) if profile.course_id else None,
        "created_at": profile.created_at.isoformat(),
        "clip_count": len(clips),
        "clips": [
            {
                "filename": clip.filename,
                "voiced_s": clip.voiced_s,
                "embedding": list(clip.embedding),
                "audio_kept": clip.audio is not None,
            }
            for clip in clips
        ],
    }


def export(session: Session, *, user_id: uuid.UUID) -> dict[str, Any]:
    """The voice profiles linked to the account, for its data export."""
    profiles = session.execute(
        select(VoiceProfile).where(VoiceProfile.user_id == user_id).order_by(VoiceProfile.created_at)
    ).scalars()
    return {"voice_profiles": [profile_json(session, profile) for profile in profiles]}


def forget_upload(session: Session, *, job_id: uuid.UUID) -> None:
    """Delete an enrolment job's uploaded clips once read: the profile keeps embeddings, not audio."""
    session.execute(delete(JobAttachment).where(JobAttachment.job_id == job_id))


def of_other_encoders(session: Session, *, encoder: str) -> list[VoiceProfile]:
    """The profiles embedded by another encoder than `encoder` (a diarizer changed since), by name."""
    return list(
        session.execute(
            select(VoiceProfile).where(VoiceProfile.encoder != encoder).order_by(VoiceProfile.name)
        ).scalars()
    )


def reembed(
    session: Session,
    *,
    profile_id: uuid.UUID,
    was: str,
    now: str,
    clips: list[tuple[int, list[float], float]],
) -> bool:
    """Replace the profile's clips' embeddings (by clip id: embedding, voiced seconds) and record
    the encoder `now`, only while it still holds `was` (a second re-embed, or a re-enrolment, got
    there first: False, nothing written)."""
    changed = session.execute(
        update(VoiceProfile)
        .where(VoiceProfile.id == profile_id, VoiceProfile.encoder == was)
        .values(encoder=now)
    ).rowcount
    if not changed:
        return False
    for clip_id, embedding, voiced_s in clips:
        session.execute(
            update(VoiceClip).where(VoiceClip.id == clip_id).values(embedding=embedding, voiced_s=voiced_s)
        )
    return True
