"""/admin/voices: the voice profiles recordings' speakers are named after, by scope (the
deployment-wide book, then each course's own), each with its encoder, clip count and whether it
needs its person enrolled again; enrol from uploaded clips (a `voice.enrol` job), export one as
JSON, rename one (by an enrolment's name rules), delete one (after a confirmation page), and
re-embed the profiles of another encoder (a `voice.reembed` job). The voice jobs of late, each a
link to its timeline, show how each ended.

Everything goes through api/voices/service.py, the functions /v1/admin/voices and
/v1/lti/courses/{id}/voices use: their checks (and error codes) decide what is enrolled.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from api.console.auth import AdminForm, AdminUser
from api.console.routing import ConsoleRoute
from api.console.templating import NavEntry, render
from api.errors import ProblemError
from api.jobs import service as job_service
from api.shared import SessionDep, Upload
from api.voices import service as voice_service
from api.voices.schemas import VoiceProfileCreate, VoiceProfileRead, VoiceProfileUpdate
from core.settings import get_settings
from core.voice_encoders import encoder_of
from tasks.voice_enrol.spec import SPEC as VOICE_ENROL
from tasks.voice_reembed.spec import SPEC as VOICE_REEMBED

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
NAV = NavEntry("Voices", "/admin/voices")

# Clips may be as large as the API's own enrolment route allows (api/main.py's upload paths).
ENROL_PATH = "/admin/voices/enrol"
JOBS_SHOWN = 10
NOTICES = {
    "enrolling": "The clips are sent: a voice.enrol job embeds them and stores the profile.",
    "reembedding": "A voice.reembed job embeds the marked profiles again from the audio their clips kept.",
    "renamed": "The voice profile is renamed: later transcripts use the new name, earlier ones keep theirs.",
    "deleted": "The voice profile and its clips are deleted. Transcripts named after it keep the name.",
}


def _job_id(value: str) -> uuid.UUID | None:
    """Only an id is taken from the URL, and shown as a link to that job's page."""
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


@router.get("/admin/voices")
async def voices_page(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    notice: Annotated[str, Query(max_length=40)] = "",
    job: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    listing = await voice_service.list_profiles(session, user=admin)
    courses = await voice_service.courses(session, user=admin)
    by_scope: dict[uuid.UUID | None, list[VoiceProfileRead]] = {}
    for profile in listing.items:
        by_scope.setdefault(profile.course_id, []).append(profile)
    jobs = []
    for spec in (VOICE_ENROL, VOICE_REEMBED):
        page, _more = await job_service.page_of_jobs(
            session, user=admin, kind=spec.name, status=None, limit=JOBS_SHOWN, cursor=None
        )
        jobs.extend(page)
    jobs.sort(key=lambda j: j.created_at, reverse=True)
    settings = get_settings()
    return render(
        request,
        "voices.html",
        title="Voices",
        shared=by_scope.pop(None, []),
        courses=[(course, by_scope.pop(course.id, [])) for course in courses],
        profiles=len(listing.items),
        marked=sum(1 for profile in listing.items if profile.needs_reenrolment),
        engine=settings.diarization_engine,
        encoder=encoder_of(settings.diarization_engine),
        keep_audio=settings.voice_keep_audio,
        max_clips=settings.voice_max_clips,
        jobs=jobs[:JOBS_SHOWN],
        enrol_path=ENROL_PATH,
        submitted_job=_job_id(job),
        notice=NOTICES.get(notice),
    )


@router.post(ENROL_PATH)
async def enrol(session: SessionDep, form: AdminForm) -> Response:
    """The clips to a `voice.enrol` job in the scope the form names (a course's id, or none)."""
    files = [f for f in form.fields.getlist("clip") if isinstance(f, UploadFile) and f.filename]
    wanted = VoiceProfileCreate.model_validate(
        {"name": form.text("name"), "role": form.text("role"), "user_id": form.text("user_id") or None}
    )
    clips = [Upload(filename=f.filename, content_type=f.content_type, content=await f.read()) for f in files]
    job = await voice_service.enrol(
        session, user=form.admin, request=wanted, clips=clips, course_id=form.text("course_id") or None
    )
    return RedirectResponse(f"/admin/voices?notice=enrolling&job={job.id}", status_code=303)


@router.post("/admin/voices/reembed")
async def reembed(session: SessionDep, form: AdminForm) -> Response:
    job = await voice_service.reembed(session, user=form.admin)
    return RedirectResponse(f"/admin/voices?notice=reembedding&job={job.id}", status_code=303)


@router.get("/admin/voices/{profile_id}/export")
async def export(profile_id: str, session: SessionDep, admin: AdminUser) -> Response:
    """The profile as GET /v1/admin/voices/{id}/export has it, as a file to save."""
    exported = await voice_service.export_profile(session, user=admin, profile_id=profile_id)
    return Response(
        exported.model_dump_json(indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="voice-profile-{exported.id}.json"',
            "Cache-Control": "no-store",  # biometric data: no copy in a cache
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/admin/voices/{profile_id}/rename")
async def rename_page(request: Request, profile_id: str, session: SessionDep, admin: AdminUser) -> Response:
    profile = await voice_service.get_profile(session, user=admin, profile_id=profile_id)
    return render(
        request, "voice_rename.html", title=f"Rename the voice profile {profile.name}", profile=profile
    )


@router.post("/admin/voices/{profile_id}/rename")
async def rename(profile_id: str, session: SessionDep, form: AdminForm) -> Response:
    wanted = VoiceProfileUpdate.model_validate({"name": form.text("name")})
    profile = await voice_service.rename_profile(
        session, user=form.admin, profile_id=profile_id, request=wanted
    )
    return RedirectResponse(f"/admin/voices?notice=renamed#voice-{profile.id}", status_code=303)


@router.get("/admin/voices/{profile_id}/delete")
async def confirm_delete(
    request: Request, profile_id: str, session: SessionDep, admin: AdminUser
) -> Response:
    profile = await voice_service.get_profile(session, user=admin, profile_id=profile_id)
    return render(
        request, "voice_delete.html", title=f"Delete the voice profile {profile.name}", profile=profile
    )


@router.post("/admin/voices/{profile_id}/delete")
async def delete(profile_id: str, session: SessionDep, form: AdminForm) -> Response:
    """Only with the confirmation box ticked."""
    if form.text("confirm") != "yes":
        raise ProblemError(
            422, "confirmation_required", "tick the box that confirms the deletion, then delete"
        )
    await voice_service.delete_profile(session, user=form.admin, profile_id=profile_id)
    return RedirectResponse("/admin/voices?notice=deleted", status_code=303)
