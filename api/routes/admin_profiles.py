"""/v1/admin/profiles: admins list, read, edit and delete anyone's profile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from api import profile_service
from api.deps import CurrentUser, SessionDep
from api.learner_schemas import AccountDeletion, ProfileList, ProfilePatch, ProfileRead
from api.openapi import problems

router = APIRouter(prefix="/v1/admin/profiles", tags=["admin"], responses=problems(403))


@router.get("", response_model=ProfileList)
async def list_profiles(
    session: SessionDep,
    user: CurrentUser,
    q: Annotated[str | None, Query(max_length=100, description="part of a username or display name")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> ProfileList:
    """Every profile, newest first (accounts' and people ingested without one)."""
    profile_service.require_admin(user)
    return await profile_service.admin_list(session, limit=limit, cursor=cursor, query=q)


@router.get("/{profile_id}", response_model=ProfileRead, responses=problems(404))
async def get_profile(
    profile_id: str, session: SessionDep, user: CurrentUser, response: Response
) -> ProfileRead:
    profile_service.require_admin(user)
    profile = await profile_service.admin_profile(session, profile_id=profile_id)
    response.headers["ETag"] = f'"{profile.revision}"'
    return profile_service.profile_read(profile)


@router.patch("/{profile_id}", response_model=ProfileRead, responses=problems(400, 404, 409, 412))
async def patch_profile(
    profile_id: str,
    patch: ProfilePatch,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> ProfileRead:
    """Change a profile (a new revision, `admin:<your id>`); `If-Match` is honoured when sent."""
    profile_service.require_admin(user)
    expected = profile_service.parse_if_match(if_match, required=False)
    changes = profile_service.patch_changes(patch)
    profile = await profile_service.admin_profile(session, profile_id=profile_id)
    saved = await profile_service.change_profile(
        session, profile=profile, changes=changes, source=f"admin:{user.id}", expected=expected
    )
    response.headers["ETag"] = f'"{saved.revision}"'
    return profile_service.profile_read(saved)


@router.delete(
    "/{profile_id}", status_code=202, response_model=AccountDeletion | None, responses=problems(404)
)
async def delete_profile(profile_id: str, session: SessionDep, user: CurrentUser, response: Response):
    """An account's profile: the account and all it owns are deleted (202 with the job). A person
    without an account: their profile is deleted at once (204)."""
    profile_service.require_admin(user)
    profile = await profile_service.admin_profile(session, profile_id=profile_id)
    deletion = await profile_service.admin_delete(session, profile=profile)
    if deletion is None:
        return Response(status_code=204)
    return deletion
