"""Voice profiles, by which a recording's speakers are named: the deployment-wide book at
/v1/admin/voices (admins, who reach every profile there), and a course's own at
/v1/lti/courses/{course_id}/voices beside the course's collections (its instructors and admins)."""

from __future__ import annotations

from typing import Annotated, NamedTuple

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.jobs.schemas import JobRead
from api.openapi import problems
from api.shared import CurrentUser, SessionDep, Upload
from api.voices import service as voice_service
from api.voices.schemas import (
    VoiceProfileCreate,
    VoiceProfileExport,
    VoiceProfileList,
    VoiceProfileRead,
    VoiceProfileUpdate,
)

router = APIRouter(prefix="/v1/admin/voices", tags=["admin"], responses=problems(403))
course_router = APIRouter(
    prefix="/v1/lti/courses/{course_id}/voices", tags=["lti"], responses=problems(403, 404)
)


class Enrolment(NamedTuple):
    request: VoiceProfileCreate
    clips: list[Upload]


async def enrolment_form(
    clip: Annotated[
        list[UploadFile],
        File(description="one or more reference clips of the person alone (wav, flac, mp3, ogg, mp4, ...)"),
    ],
    name: Annotated[str, Form(description="the name the person's speaker is given")],
    role: Annotated[str, Form(description="`host` or `guest`")],
    user_id: Annotated[
        str | None, Form(description="the person's account, if any (in a course: a member)")
    ] = None,
) -> Enrolment:
    """The enrolment form, checked (422 as for a JSON body), its clips read."""
    try:
        request = VoiceProfileCreate.model_validate({"name": name, "role": role, "user_id": user_id or None})
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False)) from None
    clips = [Upload(filename=c.filename, content_type=c.content_type, content=await c.read()) for c in clip]
    return Enrolment(request, clips)


EnrolmentForm = Annotated[Enrolment, Depends(enrolment_form)]


async def _enrol(
    session: SessionDep, user: CurrentUser, response: Response, form: Enrolment, course_id: str | None = None
) -> JobRead:
    job = await voice_service.enrol(
        session, user=user, request=form.request, clips=form.clips, course_id=course_id
    )
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job


@router.post("", response_model=JobRead, status_code=202, responses=problems(404, 409, 413))
async def enrol_voice(
    session: SessionDep, user: CurrentUser, response: Response, form: EnrolmentForm
) -> JobRead:
    """Enrol a person: a `voice.enrol` job embeds each clip on the transcribe lane and stores the
    profile (its output names it); a clip without enough speech fails the job with its code."""
    return await _enrol(session, user, response, form)


@router.post("/reembed", response_model=JobRead, status_code=202)
async def reembed_voices(session: SessionDep, user: CurrentUser, response: Response) -> JobRead:
    """Embed again, by today's diarizer's voice encoder, every profile another encoder embedded
    (marked `needs_reenrolment`), from the audio its clips kept (`MENTORQ_VOICE_KEEP_AUDIO`). A
    `voice.reembed` job on the transcribe lane; its output lists the profiles re-embedded and those
    left, each with its code (`voice_audio_not_kept`: enrol the person again)."""
    job = await voice_service.reembed(session, user=user)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job


@router.get("", response_model=VoiceProfileList)
async def list_voices(session: SessionDep, user: CurrentUser) -> VoiceProfileList:
    """Every voice profile, by name, with its clip count (the courses' too: see `course_id`)."""
    return await voice_service.list_profiles(session, user=user)


@router.get("/{profile_id}", response_model=VoiceProfileRead, responses=problems(404))
async def get_voice(profile_id: str, session: SessionDep, user: CurrentUser) -> VoiceProfileRead:
    """One voice profile."""
    return await voice_service.get_profile(session, user=user, profile_id=profile_id)


@router.get("/{profile_id}/export", response_model=VoiceProfileExport, responses=problems(404))
async def export_voice(profile_id: str, session: SessionDep, user: CurrentUser) -> VoiceProfileExport:
    """One voice profile with everything it holds: each clip's embedding."""
    return await voice_service.export_profile(session, user=user, profile_id=profile_id)


@router.patch("/{profile_id}", response_model=VoiceProfileRead, responses=problems(404, 409))
async def rename_voice(
    profile_id: str, request: VoiceProfileUpdate, session: SessionDep, user: CurrentUser
) -> VoiceProfileRead:
    """Rename a voice profile, by the rules of an enrolment's name in its scope (422
    `voice_name_invalid`, 409 `voice_profile_exists` or `voice_name_confusable`). Later recordings
    name its speakers so; transcripts already named keep the old name."""
    return await voice_service.rename_profile(session, user=user, profile_id=profile_id, request=request)


@router.delete("/{profile_id}", status_code=204, responses=problems(404))
async def delete_voice(profile_id: str, session: SessionDep, user: CurrentUser) -> Response:
    """Delete a voice profile and its clips; later recordings no longer name anyone after it."""
    await voice_service.delete_profile(session, user=user, profile_id=profile_id)
    return Response(status_code=204)


@course_router.post("", response_model=JobRead, status_code=202, responses=problems(409, 413))
async def enrol_course_voice(
    course_id: str, session: SessionDep, user: CurrentUser, response: Response, form: EnrolmentForm
) -> JobRead:
    """Enrol a person for the course: only the course's recordings are named after them. Names
    are unique in the course (409 `voice_profile_exists`)."""
    return await _enrol(session, user, response, form, course_id)


@course_router.get("", response_model=VoiceProfileList)
async def list_course_voices(course_id: str, session: SessionDep, user: CurrentUser) -> VoiceProfileList:
    """The course's voice profiles, by name."""
    return await voice_service.list_profiles(session, user=user, course_id=course_id)


@course_router.get("/{profile_id}", response_model=VoiceProfileRead)
async def get_course_voice(
    course_id: str, profile_id: str, session: SessionDep, user: CurrentUser
) -> VoiceProfileRead:
    """One of the course's voice profiles (another's, or a deployment-wide one: 404)."""
    return await voice_service.get_profile(session, user=user, profile_id=profile_id, course_id=course_id)


@course_router.get("/{profile_id}/export", response_model=VoiceProfileExport)
async def export_course_voice(
    course_id: str, profile_id: str, session: SessionDep, user: CurrentUser
) -> VoiceProfileExport:
    """One of the course's voice profiles with each clip's embedding."""
    return await voice_service.export_profile(session, user=user, profile_id=profile_id, course_id=course_id)


@course_router.patch("/{profile_id}", response_model=VoiceProfileRead, responses=problems(409))
async def rename_course_voice(
    course_id: str, profile_id: str, request: VoiceProfileUpdate, session: SessionDep, user: CurrentUser
) -> VoiceProfileRead:
    """Rename one of the course's voice profiles (names are unique in the course)."""
    return await voice_service.rename_profile(
        session, user=user, profile_id=profile_id, request=request, course_id=course_id
    )


@course_router.delete("/{profile_id}", status_code=204)
async def delete_course_voice(
    course_id: str, profile_id: str, session: SessionDep, user: CurrentUser
) -> Response:
    """Delete one of the course's voice profiles and its clips."""
    await voice_service.delete_profile(session, user=user, profile_id=profile_id, course_id=course_id)
    return Response(status_code=204)
