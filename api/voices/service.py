"""Voice profiles: enrol (a `voice.enrol` job on the transcribe lane), list, read, export, delete.
Plain functions over the session, raising ProblemError, as every feature's service.

Each takes the scope it works in: `course_id` None is the deployment-wide book, which admins keep
(and where they reach every profile, a course's too); a course's id is that course's own profiles,
which its instructors (db/course_scope.py `taught_courses`) and admins keep."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from api.jobs.schemas import JobRead
from api.jobs.service import job_read
from api.shared import Upload, get_or_404, parse_id, require_admin
from api.voices.schemas import (
    VoiceCourse,
    VoiceProfileCreate,
    VoiceProfileExport,
    VoiceProfileList,
    VoiceProfileRead,
    VoiceProfileUpdate,
)
from core import voice_names
from core.documents.detect import detect_format
from core.documents.errors import DocumentError
from core.settings import get_settings
from core.voice_encoders import reenrolment
from db import attachments, lti, voices
from db.course_scope import taught_courses
from db.jobs import create_job
from db.models import User, VoiceProfile
from db.unit_of_work import commit_async
from tasks.voice_enrol.spec import SPEC as VOICE_ENROL
from tasks.voice_enrol.spec import pack_clips
from tasks.voice_reembed.spec import SPEC as VOICE_REEMBED

ADMINS_ONLY = "manage voice profiles"


def _check_clip(index: int, clip: Upload) -> None:
    """A clip the recording decoder could read, as far as its first bytes tell: else 422 with the
    decoder's own code (`corrupt_recording`), before any job is made."""
    what = f"clip {index + 1}" + (f" ({clip.filename})" if clip.filename else "")
    try:
        kind = detect_format(clip.filename, clip.content_type, clip.content[:8192]) if clip.content else None
    except DocumentError:
        kind = None
    if kind != "recording":
        raise ProblemError(
            422,
            "corrupt_recording",
            f"{what} is not an audio or video file",
            errors=[{"path": f"clip[{index}]", "message": "not an audio or video file"}],
        )


async def _scope(session: AsyncSession, user: User, course_id: str | None) -> uuid.UUID | None:
    """The course whose profiles the call works on (None: the admins' deployment-wide book): 404
    `lti_course_not_found` for no such course, 403 `lti_instructor_only` for a caller who does not
    teach it (as the course's other routes), `admin_only` without a course for a non-admin."""
    if course_id is None:
        require_admin(user, to=ADMINS_ONLY)
        return None
    course = parse_id(course_id, code="lti_course_not_found", detail="no such course")
    if await lti.context(session, course) is None:
        raise ProblemError(404, "lti_course_not_found", "no such course")
    if not user.is_superuser and course not in await taught_courses(session, user_id=user.id):
        raise ProblemError(403, "lti_instructor_only", "only the course's instructors and admins may do this")
    return course


async def _check_name(
    session: AsyncSession, name: str, course: uuid.UUID | None, other_than: uuid.UUID | None = None
) -> None:
    """A name a profile of the scope may take (`other_than`: the profile being renamed, aside): 422
    `voice_name_invalid` for one that could hide or reorder characters, 409 `voice_profile_exists`
    or `voice_name_confusable` for one another profile of the scope has, or reads like."""
    refusal = voice_names.refusal(name)
    if refusal is not None:
        raise ProblemError(422, "voice_name_invalid", refusal)
    where = " in the course" if course else ""
    if await session.run_sync(
        lambda sync: voices.name_taken(sync, name=name, course_id=course, other_than=other_than)
    ):
        raise ProblemError(409, "voice_profile_exists", f"a voice profile{where} is named {name!r}")
    alike = await session.run_sync(
        lambda sync: voices.confusable_name(sync, name=name, course_id=course, other_than=other_than)
    )
    if alike is not None:
        raise ProblemError(
            409, "voice_name_confusable", f"{name!r} reads like {alike!r}, a voice profile{where}"
        )


async def enrol(
    session: AsyncSession,
    *,
    user: User,
    request: VoiceProfileCreate,
    clips: list[Upload],
    course_id: str | None = None,
) -> JobRead:
    """Check the request and the clips, keep the clips beside a new `voice.enrol` job, queue it."""
    course = await _scope(session, user, course_id)
    limit = get_settings().voice_max_clips
    if not clips or len(clips) > limit:
        raise ProblemError(422, "invalid_input", f"send 1 to {limit} clips as the multipart field `clip`")
    for index, clip in enumerate(clips):
        _check_clip(index, clip)
    if request.user_id is not None and not await session.run_sync(
        lambda sync: voices.may_link(sync, user_id=request.user_id, course_id=course)
    ):
        raise ProblemError(
            404, "user_not_found", "no account has that id" + (" in the course" if course else "")
        )
    await _check_name(session, request.name, course)
    sent = [{"filename": c.filename, "content_type": c.content_type, "bytes": len(c.content)} for c in clips]
    job = create_job(
        session,
        VOICE_ENROL,
        input={**request.model_dump(mode="json"), "course_id": course and str(course), "clips": sent},
        owner_id=user.id,
    )
    packed = pack_clips([clip.content for clip in clips])
    await session.run_sync(
        lambda sync: attachments.attach(
            sync, job_id=job.id, content=packed, filename="clips.zip", content_type="application/zip"
        )
    )
    await commit_async(session)
    return job_read(job)


async def reembed(session: AsyncSession, *, user: User) -> JobRead:
    """Queue a `voice.reembed` job: every profile of another encoder than today's diarizer's
    embedded again from its kept audio (admins: the profiles of every course too)."""
    require_admin(user, to=ADMINS_ONLY)
    job = create_job(session, VOICE_REEMBED, input={}, owner_id=user.id)
    await commit_async(session)
    return job_read(job)


async def courses(session: AsyncSession, *, user: User) -> list[VoiceCourse]:
    """The courses whose own profiles the user keeps, oldest first (every course, for an admin)."""
    taught = await lti.contexts_taught_by(session, user.id, everything=user.is_superuser)
    return [VoiceCourse(id=course.id, title=course.title, label=course.label) for course in taught]


def _read(profile: VoiceProfile, clip_count: int) -> VoiceProfileRead:
    return VoiceProfileRead(
        id=profile.id,
        name=profile.name,
        role=profile.role,
        encoder=profile.encoder,
        user_id=profile.user_id,
        course_id=profile.course_id,
        created_at=profile.created_at,
        clip_count=clip_count,
        needs_reenrolment=reenrolment(profile.encoder, get_settings().diarization_engine),
    )


async def list_profiles(
    session: AsyncSession, *, user: User, course_id: str | None = None
) -> VoiceProfileList:
    """Every profile (an admin's book, the courses' included), or the course's."""
    course = await _scope(session, user, course_id)
    rows = await session.run_sync(lambda sync: voices.list_profiles(sync, course_id=course))
    return VoiceProfileList(items=[_read(profile, count) for profile, count in rows])


async def _profile(session: AsyncSession, user: User, profile_id: str, course_id: str | None) -> VoiceProfile:
    """The profile, if in the scope: an admin's book holds every profile, a course's only its own."""
    course = await _scope(session, user, course_id)

    async def load(parsed: uuid.UUID) -> VoiceProfile | None:
        profile = await session.run_sync(lambda sync: voices.get_profile(sync, profile_id=parsed))
        return profile if profile is not None and course in (None, profile.course_id) else None

    return await get_or_404(profile_id, load, code="voice_profile_not_found", detail="no such voice profile")


async def export_profile(
    session: AsyncSession, *, user: User, profile_id: str, course_id: str | None = None
) -> VoiceProfileExport:
    """The profile and its clips' embeddings."""
    profile = await _profile(session, user, profile_id, course_id)
    data = await session.run_sync(lambda sync: voices.profile_json(sync, profile))
    return VoiceProfileExport.model_validate(
        data | {"needs_reenrolment": reenrolment(profile.encoder, get_settings().diarization_engine)}
    )


async def get_profile(
    session: AsyncSession, *, user: User, profile_id: str, course_id: str | None = None
) -> VoiceProfileRead:
    """The profile without its embeddings."""
    exported = await export_profile(session, user=user, profile_id=profile_id, course_id=course_id)
    return VoiceProfileRead.model_validate(exported.model_dump(exclude={"clips"}))


async def rename_profile(
    session: AsyncSession,
    *,
    user: User,
    profile_id: str,
    request: VoiceProfileUpdate,
    course_id: str | None = None,
) -> VoiceProfileRead:
    """Give the profile another name, checked as an enrolment's is in the profile's scope, while the
    scope's names are held (an enrolment's worker holds them too). Later transcripts carry the new
    name; those already named keep the old one."""
    profile = await _profile(session, user, profile_id, course_id)
    parsed, scope = profile.id, profile.course_id
    await session.run_sync(lambda sync: voices.lock_names(sync, course_id=scope))
    await _check_name(session, request.name, scope, other_than=parsed)
    await session.run_sync(lambda sync: voices.rename_profile(sync, profile_id=parsed, name=request.name))
    await commit_async(session)
    return await get_profile(session, user=user, profile_id=profile_id, course_id=course_id)


async def delete_profile(
    session: AsyncSession, *, user: User, profile_id: str, course_id: str | None = None
) -> None:
    """Delete the profile and its clips. Transcripts already named after it keep the name."""
    parsed: uuid.UUID = (await _profile(session, user, profile_id, course_id)).id
    await session.run_sync(lambda sync: voices.delete_profile(sync, profile_id=parsed))
    await commit_async(session)
