"""What an LTI role lets a person do in its context (LTI Core 1.3, appendix A: role vocabularies).

Only context roles count for a course (an institution's Administrator is not every course's
teacher), and only the full URIs: the deprecated short names ("Instructor") are what a forged or
careless message would use, and every platform we target sends the URIs."""

from __future__ import annotations

from collections.abc import Iterable

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTRUCTOR = MEMBERSHIP + "Instructor"
ADMINISTRATOR = MEMBERSHIP + "Administrator"
LEARNER = MEMBERSHIP + "Learner"
CONTENT_DEVELOPER = MEMBERSHIP + "ContentDeveloper"

# The context roles that manage a course's collections and exercises, and place them by deep linking.
TEACHING_ROLES = frozenset({INSTRUCTOR, ADMINISTRATOR})


def teaches(roles: Iterable[str]) -> bool:
    """Whether the roles include an Instructor or Administrator role of the context."""
    return any(role in TEACHING_ROLES for role in roles)


def short_names(roles: Iterable[str]) -> list[str]:
    """`Instructor`, `Learner`, ...: the context roles' names, for pages and the API."""
    return sorted({role.removeprefix(MEMBERSHIP) for role in roles if role.startswith(MEMBERSHIP)})
