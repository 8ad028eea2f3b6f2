"""Voice profiles' queries: enrol, list, read, export, delete; the enrolled voices a transcribe
worker names speakers with."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from db.models import JobAttachment, VoiceClip, VoiceProfile


def create_profile(
    session: Session,
    *,
    name: str,
    role: str,
    encoder: str,
    user_id: uuid.UUID | None,
    enrolled_by: uuid.UUID | None,
    clips: list[dict[str, Any]],
) -> VoiceProfile:
    """A profile with its clips (each {filename, voiced_s, embedding, audio})."""
    profile = VoiceProfile(name=name, role=role, encoder=encoder, user_id=user_id, enrolled_by=enrolled_by)
    session.add(profile)
    session.flush()
    session.add_all(VoiceClip(profile_id=profile.id, position=i, **clip) for i, clip in enumerate(clips))
    return profile


def name_taken(session: Session, *, name: str) -> bool:
    """Whether a profile has that name already (names are compared without regard to case)."""
    found = select(VoiceProfile.id).where(func.lower(VoiceProfile.name) == name.lower())
    return session.execute(found.limit(1)).first() is not None


def list_profiles(session: Session) -> list[tuple[VoiceProfile, int]]:
    """Every profile with its clip count, by name."""
    counts = (
        select(VoiceClip.profile_id, func.count().label("clips")).group_by(VoiceClip.profile_id).subquery()
    )
    rows = session.execute(
        select(VoiceProfile, func.coalesce(counts.c.clips, 0))
        .outerjoin(counts, counts.c.profile_id == VoiceProfile.id)
        .order_by(VoiceProfile.name)
    ).all()
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


def enrolled(session: Session, *, encoder: str) -> list[tuple[VoiceProfile, list[list[float]]]]:
    """Every profile of that encoder with its clips' embeddings (a handful of rows: people, not clips)."""
    embeddings: dict[uuid.UUID, list[list[float]]] = {}
    for profile_id, embedding in session.execute(
        select(VoiceClip.profile_id, VoiceClip.embedding)
        .join(VoiceProfile, VoiceProfile.id == VoiceClip.profile_id)
        .where(VoiceProfile.encoder == encoder)
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
