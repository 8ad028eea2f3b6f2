"""What an admin does with LTI, one function each, for /v1/admin/lti, /v1/lti/courses and the
console's LMS page alike: registration URLs, registered platforms, and a course's roster sync,
gradebook columns and failed jobs. Plain functions over the session, raising ProblemError."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from api.jobs.schemas import JobRead
from api.jobs.service import job_read
from api.lti import service
from api.lti.schemas import (
    CourseList,
    CourseRead,
    LineItemList,
    LineItemRead,
    PlatformRead,
    PlatformStatus,
    RegistrationCodeRead,
    RegistrationUrl,
    Roster,
    RosterMemberRead,
)
from api.shared import parse_id
from core.lti import tool_keys
from core.lti.errors import LtiError
from core.lti.roles import teaches
from core.settings import get_settings
from db import lti
from db.jobs import create_job
from db.models import LtiContext, User
from db.unit_of_work import commit_async
from tasks.lti_roster.spec import SPEC as ROSTER
from tasks.lti_score.spec import SPEC as SCORE


def configured_keys() -> list[tool_keys.ToolKey]:
    """The tool's published keys, the signing one first (LtiError `lti_not_configured` without)."""
    settings = get_settings()
    service.require_configured(settings)
    secret = settings.lti_private_key.get_secret_value() if settings.lti_private_key else None
    retiring = settings.lti_retiring_private_key
    return tool_keys.configured_keys(secret, retiring.get_secret_value() if retiring else None)


def require_keys() -> list[tool_keys.ToolKey]:
    """configured_keys, its refusal as a problem (an admin's request, not a launch's page)."""
    try:
        return configured_keys()
    except LtiError as error:
        raise ProblemError(error.status, error.code, error.message) from None


async def new_registration_url(session: AsyncSession, *, admin: User, origin: str) -> RegistrationUrl:
    """A one-time Dynamic Registration URL on `origin`, valid a day (REGISTRATION_CODE_VALID_FOR)."""
    require_keys()
    code, expires_at = await service.new_registration_code(session, created_by=admin.id)
    await commit_async(session)
    return RegistrationUrl(registration_url=f"{origin}{service.REGISTER_PATH}/{code}", expires_at=expires_at)


async def open_registrations(session: AsyncSession) -> list[RegistrationCodeRead]:
    """The registration URLs a platform may still use, newest first (their codes are not kept)."""
    return [
        RegistrationCodeRead(
            code_id=code.code_sha256[:12],
            created_by=email,
            created_at=code.created_at,
            expires_at=code.expires_at,
        )
        for code, email in await lti.open_registration_codes(session)
    ]


async def platform_statuses(session: AsyncSession) -> list[PlatformStatus]:
    """Every registration, oldest first, with whose accounts its launches reach and the latest launch."""
    rows = await lti.platforms(session)
    accounts = await lti.accounts_by_key(session)
    statuses = []
    for row in rows:
        count, last = accounts.get(row.accounts_key, (0, None))
        statuses.append(
            PlatformStatus(
                **PlatformRead.model_validate(row).model_dump(),
                accounts_key=row.accounts_key,
                shares_accounts_with=[
                    other.id
                    for other in rows
                    if other.accounts_key == row.accounts_key and other.id != row.id
                ],
                accounts=count,
                last_launch_at=last,
            )
        )
    return statuses


async def get_platform(session: AsyncSession, *, platform_id: str) -> PlatformRead:
    found = parse_id(platform_id, code="lti_platform_not_found", detail="no such platform")
    row = await lti.platform(session, found)
    if row is None:
        raise ProblemError(404, "lti_platform_not_found", "no such platform")
    return PlatformRead.model_validate(row)


async def remove_platform(session: AsyncSession, *, platform_id: str) -> None:
    """Its launches are refused from now on; its courses go with it, its accounts stay."""
    found = parse_id(platform_id, code="lti_platform_not_found", detail="no such platform")
    if not await lti.delete_platform(session, found):
        raise ProblemError(404, "lti_platform_not_found", "no such platform")
    await commit_async(session)


async def taught_course(session: AsyncSession, *, user: User, course_id: str) -> LtiContext:
    """The course, if the user is an admin or has an Instructor or Administrator role in it."""
    found = parse_id(course_id, code="lti_course_not_found", detail="no such course")
    course = await lti.context(session, found)
    if course is None:
        raise ProblemError(404, "lti_course_not_found", "no such course")
    if not user.is_superuser and not teaches(
        await lti.roles_in(session, context_id=course.id, user_id=user.id)
    ):
        raise ProblemError(403, "lti_instructor_only", "only the course's instructors and admins may do this")
    return course


def course_read(course: LtiContext) -> CourseRead:
    return CourseRead(
        id=course.id,
        platform_id=course.platform_id,
        context_id=course.context_id,
        title=course.title,
        label=course.label,
        roster_available=course.memberships_url is not None,
        line_items_available=course.lineitems_url is not None,
    )


async def list_courses(session: AsyncSession, *, user: User) -> CourseList:
    """The courses the user teaches (launched as Instructor or Administrator); an admin sees all."""
    rows = await lti.contexts_taught_by(session, user.id, everything=user.is_superuser)
    return CourseList(items=[course_read(row) for row in rows])


async def read_roster(session: AsyncSession, *, user: User, course_id: str) -> Roster:
    """The course's members as the latest roster sync read them, launched here or not."""
    course = await taught_course(session, user=user, course_id=course_id)
    return Roster(
        items=[RosterMemberRead.model_validate(row) for row in await lti.roster(session, course.id)]
    )


async def line_items(session: AsyncSession, *, user: User, course_id: str) -> LineItemList:
    """The course's gradebook columns mentorq knows, one per exercise."""
    course = await taught_course(session, user=user, course_id=course_id)
    rows = await lti.course_line_items(session, course.id)
    return LineItemList(items=[LineItemRead.model_validate(row) for row in rows])


async def sync_roster(session: AsyncSession, *, user: User, course_id: str) -> JobRead:
    """An `lti.roster` job reading the course's roster from its platform (NRPS, every page)."""
    course = await taught_course(session, user=user, course_id=course_id)
    if course.memberships_url is None:
        raise ProblemError(409, "lti_roster_unavailable", "the platform never offered this course's roster")
    job = create_job(session, ROSTER, input={"context_id": str(course.id)}, owner_id=user.id)
    await commit_async(session)
    return job_read(job)


async def course_failures(session: AsyncSession, *, course_id: uuid.UUID, limit: int) -> list[JobRead]:
    """The course's failed `lti.roster` and `lti.score` jobs, newest first."""
    jobs = await lti.course_failures(
        session, context_id=course_id, roster_kind=ROSTER.name, score_kind=SCORE.name, limit=limit
    )
    return [job_read(job) for job in jobs]
