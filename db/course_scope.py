"""Course scope: which collections and exercises a user may see, now that some belong to an LTI course.

The one rule, as SQL conditions every reader applies (documents, search, ask and the tutor through
the collections; exercises; the LTI pages), for the sync and the async side alike:

- a user's own collection or generated exercise is theirs alone, as ever;
- an unscoped shared collection or authored exercise (course NULL) is everyone's, as ever;
- a course-scoped one is seen by the members of that course (any role, as the latest launch or
  roster said: `lti_memberships`) and by admins, and by nobody else.

Writing a course's collections and authoring its exercises is for its Instructors and
Administrators (core/lti/roles.py `teaches`) and admins: `taught_courses`."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Text, and_, cast, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.lti.roles import TEACHING_ROLES
from db.models import Collection, Exercise, LtiMembership, User


def _in_reach(course: InstrumentedAttribute, user_id: uuid.UUID) -> ColumnElement[bool]:
    """Unscoped, or of a course the user is a member of, or the user is an admin."""
    member_of = select(LtiMembership.context_id).where(LtiMembership.user_id == user_id)
    admin = select(User.id).where(User.id == user_id, User.is_superuser.is_(True)).exists()
    return or_(course.is_(None), course.in_(member_of), admin)


def collection_visible(user_id: uuid.UUID) -> ColumnElement[bool]:
    """The user's own collections, the shared libraries, and the libraries of the user's courses."""
    return or_(
        Collection.owner_id == user_id,
        and_(Collection.owner_id.is_(None), _in_reach(Collection.course_id, user_id)),
    )


def exercise_visible(user_id: uuid.UUID) -> ColumnElement[bool]:
    """The exercises made for the user, those written for everyone, and those of the user's courses."""
    return or_(
        Exercise.owner_id == user_id,
        and_(Exercise.owner_id.is_(None), _in_reach(Exercise.course_id, user_id)),
    )


def placeable_in(course_id: uuid.UUID | None) -> ColumnElement[bool]:
    """What an instructor may place in a course by deep linking: the authored exercises written for
    everyone and the course's own, never another course's (a launch without a course: the first)."""
    unscoped = Exercise.course_id.is_(None)
    return and_(
        Exercise.owner_id.is_(None),
        unscoped if course_id is None else or_(unscoped, Exercise.course_id == course_id),
    )


async def taught_courses(session: AsyncSession, *, user_id: uuid.UUID) -> set[uuid.UUID]:
    """The courses the user holds an Instructor or Administrator role in."""
    query = select(LtiMembership.context_id).where(
        LtiMembership.user_id == user_id,
        LtiMembership.roles.overlap(cast(sorted(TEACHING_ROLES), ARRAY(Text))),
    )
    return set((await session.execute(query)).scalars())
