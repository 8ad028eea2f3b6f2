"""/api/profiles: sign-up with a profile, the caller's profile and its revisions, export and
deletion, profile ingestion; /v1/admin/profiles (admin_router): any profile, for admins."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.auth import UserManager, get_user_manager
from api.errors import ProblemError
from api.headers import parse_if_match
from api.jobs.schemas import JobRead
from api.openapi import problems
from api.profiles import service as profile_service
from api.profiles.schemas import (
    AccountCreate,
    AccountCreated,
    AccountDeletion,
    ProfileList,
    ProfilePatch,
    ProfileRead,
    ProfileTextIngest,
    RevisionList,
)
from api.shared import CurrentUser, SessionDep, Upload, require_admin
from core.sql_limits import MAX_INTEGER

router = APIRouter(prefix="/api/profiles", tags=["profiles"])

IfMatch = Annotated[str | None, Header(alias="If-Match", description='the revision you edited, e.g. "3"')]

INGEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "user_email": {"type": "string", "format": "email"},
                        "external_id": {"type": "string", "minLength": 1, "maxLength": 200},
                        "session_id": {"type": "string", "format": "uuid"},
                    },
                }
            },
            "application/json": {"schema": ProfileTextIngest.model_json_schema()},
        },
    }
}


def _with_etag(profile, response: Response) -> ProfileRead:
    response.headers["ETag"] = f'"{profile.revision}"'
    return profile_service.profile_read(profile)


@router.post("/create", response_model=AccountCreated, status_code=201, responses=problems(409))
async def create_account(
    request: AccountCreate,
    session: SessionDep,
    user_manager: Annotated[UserManager, Depends(get_user_manager)],
) -> AccountCreated:
    """An account and its profile in one step; then log in at /auth/jwt/login."""
    return await profile_service.create_account(session, request=request, user_manager=user_manager)


@router.get("/me", response_model=ProfileRead)
async def get_my_profile(session: SessionDep, user: CurrentUser, response: Response) -> ProfileRead:
    """Your profile; its `ETag` is the revision to send back in `If-Match` when you edit it."""
    return _with_etag(await profile_service.my_profile(session, user=user), response)


@router.patch("/me", response_model=ProfileRead, responses=problems(400, 409, 412, 428))
async def patch_my_profile(
    patch: ProfilePatch, session: SessionDep, user: CurrentUser, response: Response, if_match: IfMatch = None
) -> ProfileRead:
    """Change some fields: a new revision. `If-Match` is required, so two tabs never overwrite each
    other silently: an edit of an older revision is 412 `revision_conflict`."""
    expected = parse_if_match(if_match, required=True)
    changes = profile_service.patch_changes(patch)
    profile = await profile_service.my_profile(session, user=user)
    saved = await profile_service.change_profile(
        session, profile=profile, changes=changes, source="edit", expected=expected
    )
    return _with_etag(saved, response)


@router.delete("/me", response_model=AccountDeletion, status_code=202)
async def delete_my_account(session: SessionDep, user: CurrentUser) -> AccountDeletion:
    """Delete your account and everything it owns. Your token stops working at once; the data goes
    in a background job (its id is in the answer, for the record)."""
    return await profile_service.delete_account(session, user=user)


@router.get("/me/revisions", response_model=RevisionList)
async def list_my_revisions(session: SessionDep, user: CurrentUser) -> RevisionList:
    """Every revision of your profile, newest first."""
    profile = await profile_service.my_profile(session, user=user)
    return await profile_service.revisions(session, profile=profile)


@router.post("/me/revisions/{number}/restore", response_model=ProfileRead, responses=problems(404))
async def restore_my_revision(
    number: Annotated[int, Path(ge=1, le=MAX_INTEGER)],
    session: SessionDep,
    user: CurrentUser,
    response: Response,
) -> ProfileRead:
    """A new revision with the contents of revision `number`."""
    profile = await profile_service.my_profile(session, user=user)
    return _with_etag(await profile_service.restore(session, profile=profile, number=number), response)


@router.get("/me/export")
async def export_my_data(session: SessionDep, user: CurrentUser) -> Response:
    """Everything about you, as one JSON document to download."""
    document = await profile_service.export(session, user=user)
    return Response(
        json.dumps(document, ensure_ascii=False),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="mentorq-export.json"'},
    )


@router.post(
    "/ingest",
    response_model=JobRead,
    status_code=202,
    responses=problems(403, 404, 409, 413, 415),
    openapi_extra=INGEST_BODY,
)
async def ingest_profile(
    request: Request, session: SessionDep, user: CurrentUser, response: Response
) -> JobRead:
    """A file (multipart `file`: txt, md, html, pdf, docx, srt, vtt) or JSON `{text}`; a
    `profile_ingest` job turns it into your profile's next revision (admins: `user_email` or
    `external_id` for someone else)."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=10)
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise ProblemError(422, "invalid_input", "send the source as the multipart field `file`")
        fields = {k: v for k, v in form.items() if k != "file" and isinstance(v, str) and v}
        body = ProfileTextIngest.model_validate({"text": "-", **fields})  # the same checks as JSON
        upload = Upload(filename=file.filename, content_type=file.content_type, content=await file.read())
        kind = "file"
    elif content_type == "application/json":
        try:
            body = ProfileTextIngest.model_validate_json(await request.body())
        except ValidationError as error:
            raise RequestValidationError(error.errors(include_url=False)) from None
        upload = Upload(filename="profile.txt", content_type="text/plain", content=body.text.encode())
        kind = "text"
    else:
        raise ProblemError(
            415, "unsupported_media_type", "send multipart/form-data with `file`, or JSON `{text}`"
        )
    job = await profile_service.ingest(
        session,
        user=user,
        upload=upload,
        source_kind=kind,
        user_email=body.user_email,
        external_id=body.external_id,
        session_id=body.session_id,
    )
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job


admin_router = APIRouter(prefix="/v1/admin/profiles", tags=["admin"], responses=problems(403))


@admin_router.get("", response_model=ProfileList)
async def list_profiles(
    session: SessionDep,
    user: CurrentUser,
    q: Annotated[str | None, Query(max_length=100, description="part of a username or display name")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> ProfileList:
    """Every profile, newest first (accounts' and people ingested without one)."""
    require_admin(user, to=profile_service.ADMINS_ONLY)
    return await profile_service.admin_list(session, limit=limit, cursor=cursor, query=q)


@admin_router.get("/{profile_id}", response_model=ProfileRead, responses=problems(404))
async def get_profile(
    profile_id: str, session: SessionDep, user: CurrentUser, response: Response
) -> ProfileRead:
    require_admin(user, to=profile_service.ADMINS_ONLY)
    profile = await profile_service.admin_profile(session, profile_id=profile_id)
    response.headers["ETag"] = f'"{profile.revision}"'
    return profile_service.profile_read(profile)


@admin_router.patch("/{profile_id}", response_model=ProfileRead, responses=problems(400, 404, 409, 412))
async def patch_profile(
    profile_id: str,
    patch: ProfilePatch,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> ProfileRead:
    """Change a profile (a new revision, `admin:<your id>`); `If-Match` is honoured when sent."""
    require_admin(user, to=profile_service.ADMINS_ONLY)
    expected = parse_if_match(if_match, required=False)
    changes = profile_service.patch_changes(patch)
    profile = await profile_service.admin_profile(session, profile_id=profile_id)
    saved = await profile_service.change_profile(
        session, profile=profile, changes=changes, source=f"admin:{user.id}", expected=expected
    )
    response.headers["ETag"] = f'"{saved.revision}"'
    return profile_service.profile_read(saved)


@admin_router.delete(
    "/{profile_id}", status_code=202, response_model=AccountDeletion | None, responses=problems(404)
)
async def delete_profile(profile_id: str, session: SessionDep, user: CurrentUser, response: Response):
    """An account's profile: the account and all it owns are deleted (202 with the job). A person
    without an account: their profile is deleted at once (204)."""
    require_admin(user, to=profile_service.ADMINS_ONLY)
    profile = await profile_service.admin_profile(session, profile_id=profile_id)
    deletion = await profile_service.admin_delete(session, profile=profile)
    if deletion is None:
        return Response(status_code=204)
    return deletion
