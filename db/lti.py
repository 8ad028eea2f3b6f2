"""LTI queries: registered platforms, the account a platform user is linked to, courses and roles."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Text, cast, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.jobspec import JobSpec
from core.lti.roles import TEACHING_ROLES
from db import course_scope
from db.jobs import create_job
from db.models import (
    Exercise,
    Job,
    JobStatus,
    LtiAccount,
    LtiContext,
    LtiGradeLink,
    LtiLineItem,
    LtiMembership,
    LtiPlatform,
    LtiRegistrationCode,
    LtiRosterMember,
    Submission,
    User,
)

# Accounts created by a launch get an address under a reserved name (RFC 2606's .example), never the
# e-mail the platform shares: that e-mail is not proven to us, and an account is never linked or
# merged by e-mail alone. The platform's e-mail is kept beside the link (lti_accounts.email).
LTI_EMAIL_DOMAIN = "users.lti.example"


async def platforms(session: AsyncSession) -> Sequence[LtiPlatform]:
    return (await session.execute(select(LtiPlatform).order_by(LtiPlatform.created_at))).scalars().all()


async def platform(session: AsyncSession, platform_id: uuid.UUID) -> LtiPlatform | None:
    return await session.get(LtiPlatform, platform_id)


async def platforms_of_issuer(session: AsyncSession, issuer: str) -> Sequence[LtiPlatform]:
    """Every registration with this issuer: one platform may register the tool more than once (Canvas
    uses one issuer for all its customers), and the client id then tells them apart."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer).order_by(LtiPlatform.created_at)
    return (await session.execute(query)).scalars().all()


async def add_platform(session: AsyncSession, **fields: object) -> LtiPlatform | None:
    """The new registration, or None when this issuer and client id are registered already. It
    reaches the users of a live registration with the same issuer and the same key set (the same
    platform under another client id, as Canvas makes them); otherwise only users of its own: a
    registration that names someone else's issuer signs with other keys, and one made after the
    first was removed starts afresh (an admin links accounts by hand, if ever)."""
    platform_id = uuid.uuid4()
    sibling = await session.scalar(
        select(LtiPlatform.accounts_key)
        .where(LtiPlatform.issuer == fields["issuer"], LtiPlatform.jwks_url == fields["jwks_url"])
        .order_by(LtiPlatform.created_at, LtiPlatform.id)
        .limit(1)
    )
    statement = (
        insert(LtiPlatform)
        .values(id=platform_id, accounts_key=sibling or str(platform_id), **fields)
        .on_conflict_do_nothing(constraint="uq_lti_platforms_issuer")
        .returning(LtiPlatform)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def delete_platform(session: AsyncSession, platform_id: uuid.UUID) -> bool:
    result = await session.execute(delete(LtiPlatform).where(LtiPlatform.id == platform_id))
    return bool(result.rowcount)


async def linked_user(session: AsyncSession, *, accounts_key: str, subject: str) -> User | None:
    query = (
        select(User)
        .join(LtiAccount, LtiAccount.user_id == User.id)
        .where(LtiAccount.accounts_key == accounts_key, LtiAccount.subject == subject)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def link(
    session: AsyncSession,
    *,
    accounts_key: str,
    issuer: str,
    subject: str,
    name: str | None,
    email: str | None,
    hashed_password: str,
) -> User:
    """The user linked to (the registration's accounts key, subject): found, with its name and
    e-mail refreshed, or created now.

    Two first launches at once both try to create: the unique (accounts key, subject) lets one link
    win, and the other's new user is rolled back to a savepoint and the winner's returned."""
    user = await linked_user(session, accounts_key=accounts_key, subject=subject)
    if user is None:
        async with session.begin_nested() as savepoint:
            user_id = uuid.uuid4()
            session.add(
                User(
                    id=user_id,
                    email=f"lti-{user_id}@{LTI_EMAIL_DOMAIN}",
                    hashed_password=hashed_password,
                    is_active=True,
                    is_verified=False,
                )
            )
            await session.flush()
            linked = await session.execute(
                insert(LtiAccount)
                .values(
                    id=uuid.uuid4(),
                    issuer=issuer,
                    accounts_key=accounts_key,
                    subject=subject,
                    user_id=user_id,
                    name=name,
                    email=email,
                )
                .on_conflict_do_nothing(constraint="uq_lti_accounts_accounts_key")
                .returning(LtiAccount.id)
            )
            if linked.scalar_one_or_none() is None:
                await savepoint.rollback()
        user = await linked_user(session, accounts_key=accounts_key, subject=subject)
        assert user is not None
        return user
    account = (
        await session.execute(
            select(LtiAccount).where(LtiAccount.accounts_key == accounts_key, LtiAccount.subject == subject)
        )
    ).scalar_one()
    account.name, account.email, account.last_launch_at = name, email, func.now()
    return user


async def lti_account_of(session: AsyncSession, user_id: uuid.UUID) -> LtiAccount | None:
    query = select(LtiAccount).where(LtiAccount.user_id == user_id).order_by(LtiAccount.created_at).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def enrol(
    session: AsyncSession,
    *,
    platform_id: uuid.UUID,
    context_id: str,
    title: str | None,
    label: str | None,
    memberships_url: str | None,
    user_id: uuid.UUID,
    roles: Sequence[str],
    lineitems_url: str | None = None,
) -> LtiContext:
    """Record the course and the user's roles in it as this launch says them."""
    context = (
        await session.execute(
            insert(LtiContext)
            .values(
                id=uuid.uuid4(),
                platform_id=platform_id,
                context_id=context_id,
                title=title,
                label=label,
                memberships_url=memberships_url,
                lineitems_url=lineitems_url,
            )
            .on_conflict_do_update(
                constraint="uq_lti_contexts_platform_id",
                set_={
                    "title": title,
                    "label": label,
                    "memberships_url": func.coalesce(memberships_url, LtiContext.memberships_url),
                    "lineitems_url": func.coalesce(lineitems_url, LtiContext.lineitems_url),
                },
            )
            .returning(LtiContext)
        )
    ).scalar_one()
    await session.execute(
        insert(LtiMembership)
        .values(context_id=context.id, user_id=user_id, roles=list(roles))
        .on_conflict_do_update(
            index_elements=["context_id", "user_id"], set_={"roles": list(roles), "updated_at": func.now()}
        )
    )
    return context


async def roles_in(session: AsyncSession, *, context_id: uuid.UUID, user_id: uuid.UUID) -> list[str]:
    query = select(LtiMembership.roles).where(
        LtiMembership.context_id == context_id, LtiMembership.user_id == user_id
    )
    return list((await session.execute(query)).scalar_one_or_none() or [])


async def user_by_id(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


def platform_sync(session: Session, platform_id: uuid.UUID) -> LtiPlatform | None:
    return session.get(LtiPlatform, platform_id)


async def exercise_exists(session: AsyncSession, exercise_id: uuid.UUID, *, for_user: uuid.UUID) -> bool:
    """Whether the user may answer it: an authored exercise (no owner) or one made for them."""
    query = select(Exercise.id).where(
        Exercise.id == exercise_id, (Exercise.owner_id.is_(None)) | (Exercise.owner_id == for_user)
    )
    return (await session.execute(query)).scalar_one_or_none() is not None


async def course_line_item(
    session: AsyncSession, *, context_id: uuid.UUID, exercise_id: uuid.UUID
) -> LtiLineItem | None:
    return await session.get(LtiLineItem, (context_id, exercise_id))


async def course_line_items(session: AsyncSession, context_id: uuid.UUID) -> list[LtiLineItem]:
    query = select(LtiLineItem).where(LtiLineItem.context_id == context_id).order_by(LtiLineItem.updated_at)
    return list((await session.execute(query)).scalars())


def remember_line_item(
    session: Session | AsyncSession,
    *,
    context_id: uuid.UUID,
    exercise_id: uuid.UUID,
    lineitem_url: str,
    label: str | None,
    created_by_tool: bool,
):
    """The course's gradebook column for the exercise is this line item from now on (a statement
    to execute, for either kind of session)."""
    values = {"lineitem_url": lineitem_url, "label": label, "created_by_tool": created_by_tool}
    return session.execute(
        insert(LtiLineItem)
        .values(context_id=context_id, exercise_id=exercise_id, **values)
        .on_conflict_do_update(
            index_elements=["context_id", "exercise_id"], set_={**values, "updated_at": func.now()}
        )
    )


def due_rosters(session: Session, *, every: timedelta, limit: int) -> list[uuid.UUID]:
    """Courses whose roster the platform offers and beat has not queued a sync for in `every`;
    marked queued now (SKIP LOCKED: two beats never take the same course)."""
    cutoff = datetime.now(UTC) - every
    due = session.execute(
        select(LtiContext)
        .where(
            LtiContext.memberships_url.is_not(None),
            (LtiContext.roster_queued_at.is_(None)) | (LtiContext.roster_queued_at < cutoff),
        )
        .order_by(LtiContext.roster_queued_at.nulls_first())
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).scalars()
    ids = []
    for context in due:
        context.roster_queued_at = datetime.now(UTC)
        ids.append(context.id)
    return ids


async def link_grades(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    exercise_id: uuid.UUID,
    platform_id: uuid.UUID,
    lineitem_url: str,
    subject: str,
) -> None:
    """From now on the user's grades on the exercise go to this line item (the latest launch's)."""
    values = {"platform_id": platform_id, "lineitem_url": lineitem_url, "subject": subject}
    await session.execute(
        insert(LtiGradeLink)
        .values(user_id=user_id, exercise_id=exercise_id, **values)
        .on_conflict_do_update(
            index_elements=["user_id", "exercise_id"], set_={**values, "updated_at": func.now()}
        )
    )


def queue_score(session: Session, score_spec: JobSpec, *, submission: Submission, score: float) -> None:
    """In the grade's own transaction: an `lti.score` job for this submission when the learner
    launched the exercise from a graded link, so the grade and its way to the gradebook commit
    together (the job is never lost, and never made for a grade that did not commit)."""
    link = session.get(LtiGradeLink, (submission.user_id, submission.exercise_id))
    if link is None:
        return
    create_job(
        session,
        score_spec,
        # One job per submission: its id is derived from the submission's.
        job_id=uuid.uuid5(submission.id, score_spec.name),
        owner_id=submission.user_id,
        input={
            "submission_id": str(submission.id),
            "platform_id": str(link.platform_id),
            "lineitem_url": link.lineitem_url,
            "user_id": link.subject,
            "score_given": score,
            "score_maximum": 1.0,
            "timestamp": datetime.now(UTC).isoformat(),
        },
    )


async def exercise_title(
    session: AsyncSession, exercise_id: uuid.UUID, *, course_id: uuid.UUID
) -> str | None:
    """The title (its prompt's start without one) of an exercise the course may hold: one written
    for everyone or the course's own; None for another course's, a learner's, or none."""
    row = (
        await session.execute(
            select(Exercise.title, Exercise.prompt).where(
                Exercise.id == exercise_id, course_scope.placeable_in(course_id)
            )
        )
    ).first()
    return None if row is None else (row.title or row.prompt[:80])


async def exercise_course(session: AsyncSession, exercise_id: uuid.UUID) -> uuid.UUID | None:
    """The course the exercise is scoped to (None: unscoped, or no such exercise)."""
    return (
        await session.execute(select(Exercise.course_id).where(Exercise.id == exercise_id))
    ).scalar_one_or_none()


async def exercise_prompt(session: AsyncSession, exercise_id: uuid.UUID) -> str | None:
    return (
        await session.execute(select(Exercise.prompt).where(Exercise.id == exercise_id))
    ).scalar_one_or_none()


ROSTER_STATUSES = ("Active", "Inactive", "Deleted")


@dataclass(frozen=True)
class RosterEntry:
    subject: str
    name: str | None
    email: str | None
    roles: tuple[str, ...]
    status: str

    @classmethod
    def of(cls, member: dict[str, object]) -> RosterEntry | None:
        """A member of an NRPS page (None without a usable user_id); an unknown status is Active,
        the spec's default."""
        subject = member.get("user_id")
        if not isinstance(subject, str) or not subject.strip() or len(subject) > 255:
            return None
        roles = member.get("roles")
        status = member.get("status")
        name = member.get("name")
        email = member.get("email")
        return cls(
            subject=subject.strip(),
            name=name[:200] if isinstance(name, str) else None,
            email=email[:320] if isinstance(email, str) else None,
            roles=tuple(role for role in roles if isinstance(role, str)) if isinstance(roles, list) else (),
            status=status if status in ROSTER_STATUSES else "Active",
        )


def context_with_platform(session: Session, context_id: uuid.UUID) -> tuple[LtiContext, LtiPlatform] | None:
    row = session.execute(
        select(LtiContext, LtiPlatform)
        .join(LtiPlatform, LtiPlatform.id == LtiContext.platform_id)
        .where(LtiContext.id == context_id)
    ).first()
    return (row[0], row[1]) if row else None


def replace_roster(
    session: Session, *, context_id: uuid.UUID, accounts_key: str, members: list[RosterEntry]
) -> None:
    """The course's roster is now exactly `members`, each linked to its mentorq account if it has one;
    and a launched member the roster no longer lists as Active (Inactive, Deleted or gone) is no
    longer a member here: the course's collections and exercises close to them (db/course_scope.py)
    until a launch from the course says otherwise."""
    session.execute(delete(LtiRosterMember).where(LtiRosterMember.context_id == context_id))
    if not members:
        session.execute(delete(LtiMembership).where(LtiMembership.context_id == context_id))
        return
    linked = dict(
        session.execute(
            select(LtiAccount.subject, LtiAccount.user_id).where(
                LtiAccount.accounts_key == accounts_key,
                LtiAccount.subject.in_([member.subject for member in members]),
            )
        ).all()
    )
    session.execute(
        insert(LtiRosterMember),
        [
            {
                "context_id": context_id,
                "subject": member.subject,
                "user_id": linked.get(member.subject),
                "name": member.name,
                "email": member.email,
                "roles": list(member.roles),
                "status": member.status,
            }
            for member in members
        ],
    )
    active = [
        linked[member.subject] for member in members if member.status == "Active" and member.subject in linked
    ]
    session.execute(
        delete(LtiMembership).where(
            LtiMembership.context_id == context_id, LtiMembership.user_id.not_in(active)
        )
    )


async def context(session: AsyncSession, context_id: uuid.UUID) -> LtiContext | None:
    return await session.get(LtiContext, context_id)


async def contexts_taught_by(
    session: AsyncSession, user_id: uuid.UUID, *, everything: bool
) -> Sequence[LtiContext]:
    """The courses the user has a teaching role in (every course, for an admin)."""
    query = select(LtiContext).order_by(LtiContext.created_at)
    if not everything:
        query = query.join(LtiMembership, LtiMembership.context_id == LtiContext.id).where(
            LtiMembership.user_id == user_id,
            LtiMembership.roles.overlap(cast(sorted(TEACHING_ROLES), ARRAY(Text))),
        )
    return (await session.execute(query)).scalars().all()


async def roster(session: AsyncSession, context_id: uuid.UUID) -> Sequence[LtiRosterMember]:
    query = (
        select(LtiRosterMember).where(LtiRosterMember.context_id == context_id).order_by(LtiRosterMember.name)
    )
    return (await session.execute(query)).scalars().all()


def export(session: Session, *, user_id: uuid.UUID) -> dict[str, list[dict[str, object]]]:
    """What LTI keeps about the user, for their data export: the platform accounts linked to theirs
    (with what each platform shared), their courses and roles, and where their grades go."""
    accounts = session.execute(
        select(LtiAccount).where(LtiAccount.user_id == user_id).order_by(LtiAccount.created_at)
    ).scalars()
    courses = session.execute(
        select(LtiContext, LtiMembership.roles)
        .join(LtiMembership, LtiMembership.context_id == LtiContext.id)
        .where(LtiMembership.user_id == user_id)
        .order_by(LtiContext.created_at)
    ).all()
    grade_links = session.execute(select(LtiGradeLink).where(LtiGradeLink.user_id == user_id)).scalars()
    return {
        "lti_accounts": [
            {
                "issuer": account.issuer,
                "subject": account.subject,
                "name": account.name,
                "email": account.email,
                "created_at": account.created_at.isoformat(),
                "last_launch_at": account.last_launch_at.isoformat(),
            }
            for account in accounts
        ],
        "lti_courses": [
            {"context_id": course.context_id, "title": course.title, "roles": list(roles)}
            for course, roles in courses
        ],
        "lti_grade_links": [
            {"exercise_id": str(link.exercise_id), "lineitem_url": link.lineitem_url} for link in grade_links
        ],
    }


async def authored_exercises(
    session: AsyncSession, *, course_id: uuid.UUID | None, limit: int = 500
) -> Sequence[Exercise]:
    """What an instructor may place in the course: exercises written for everyone (no owner, no
    course) and the course's own, never another course's (db/course_scope.py)."""
    query = (
        select(Exercise)
        .where(course_scope.placeable_in(course_id))
        .order_by(Exercise.created_at.desc())
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def authored_exercises_by_id(
    session: AsyncSession, ids: Sequence[uuid.UUID], *, course_id: uuid.UUID | None
) -> dict[uuid.UUID, Exercise]:
    """Those of `ids` that may be placed in the course (as authored_exercises)."""
    query = select(Exercise).where(course_scope.placeable_in(course_id), Exercise.id.in_(list(ids)))
    return {exercise.id: exercise for exercise in (await session.execute(query)).scalars()}


async def add_registration_code(
    session: AsyncSession, *, code_sha256: str, created_by: uuid.UUID, valid_for: timedelta
) -> LtiRegistrationCode:
    row = LtiRegistrationCode(
        code_sha256=code_sha256, created_by=created_by, expires_at=datetime.now(UTC) + valid_for
    )
    session.add(row)
    await session.flush()
    return row


async def claim_registration_code(session: AsyncSession, code_sha256: str) -> bool:
    """Take the code for one registration (True), unless unknown, expired or taken already."""
    result = await session.execute(
        update(LtiRegistrationCode)
        .where(
            LtiRegistrationCode.code_sha256 == code_sha256,
            LtiRegistrationCode.used_at.is_(None),
            LtiRegistrationCode.expires_at > func.now(),
        )
        .values(used_at=func.now())
        .returning(LtiRegistrationCode.code_sha256)
    )
    return result.scalar_one_or_none() is not None


async def release_registration_code(session: AsyncSession, code_sha256: str) -> None:
    """The registration failed: the code may be used again (until it expires)."""
    await session.execute(
        update(LtiRegistrationCode).where(LtiRegistrationCode.code_sha256 == code_sha256).values(used_at=None)
    )


async def registered_with_code(session: AsyncSession, code_sha256: str, platform_id: uuid.UUID) -> None:
    await session.execute(
        update(LtiRegistrationCode)
        .where(LtiRegistrationCode.code_sha256 == code_sha256)
        .values(platform_id=platform_id)
    )


async def open_registration_codes(session: AsyncSession) -> list[tuple[LtiRegistrationCode, str | None]]:
    """Registration codes a platform may still use (neither used nor expired), newest first, each
    with the e-mail of the admin who made it (None once that account is gone)."""
    query = (
        select(LtiRegistrationCode, User.email)
        .outerjoin(User, User.id == LtiRegistrationCode.created_by)
        .where(LtiRegistrationCode.used_at.is_(None), LtiRegistrationCode.expires_at > func.now())
        .order_by(LtiRegistrationCode.created_at.desc())
    )
    return [(code, email) for code, email in (await session.execute(query)).all()]


async def accounts_by_key(session: AsyncSession) -> dict[str, tuple[int, datetime]]:
    """Per accounts key: how many platform users launches linked to accounts, and when one of them
    last launched (lti_accounts.last_launch_at; registrations sharing a key share these)."""
    query = select(LtiAccount.accounts_key, func.count(), func.max(LtiAccount.last_launch_at)).group_by(
        LtiAccount.accounts_key
    )
    return {key: (count, last) for key, count, last in (await session.execute(query)).all()}


async def course_failures(
    session: AsyncSession, *, context_id: uuid.UUID, roster_kind: str, score_kind: str, limit: int
) -> list[Job]:
    """The course's failed roster syncs (their input names it) and failed scores (sent to one of
    its line items), newest first."""
    columns = select(LtiLineItem.lineitem_url).where(LtiLineItem.context_id == context_id)
    query = (
        select(Job)
        .where(
            Job.status == JobStatus.failed.value,
            or_(
                (Job.kind == roster_kind) & (Job.input["context_id"].astext == str(context_id)),
                (Job.kind == score_kind) & Job.input["lineitem_url"].astext.in_(columns),
            ),
        )
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())
