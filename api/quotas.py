"""Quotas and earned priority: what one user may hold at once, so nobody floods a shared platform.

Admins are exempt (they run the platform, and curate the shared library in bulk). Counts are
read, then the work is added, without a lock (a job submitted through POST /v1/jobs is counted by
the statement that inserts it, which sees no other transaction's uncommitted job either): two
requests at the same instant can each pass at the cap's edge, so a user may briefly hold a job or
collection over it; nothing is lost by that.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from core.settings import get_settings
from db import users
from db.models import User


def check_priority(user: User, priority: int) -> None:
    """Users may ask for priority 0 to MENTORQ_MAX_USER_PRIORITY; above it is for admins and the platform."""
    ceiling = get_settings().max_user_priority
    if priority > ceiling and not user.is_superuser:
        message = f"priority above {ceiling} is reserved for admins and the platform"
        raise ProblemError(
            422, "priority_reserved", message, errors=[{"path": "priority", "message": message}]
        )


def job_cap(user: User) -> int | None:
    """How many queued and running jobs the user may hold at once (None: no cap, an admin)."""
    return None if user.is_superuser else get_settings().max_active_jobs_per_user


def too_many_jobs(active: int, cap: int) -> ProblemError:
    return ProblemError(
        429,
        "too_many_jobs",
        f"you have {active} queued or running jobs; at most {cap} at once, so wait for some to finish",
        headers={"Retry-After": "5"},
    )


async def check_job_quota(session: AsyncSession, *, user: User, new_jobs: int = 1) -> None:
    """429 `too_many_jobs` when the user's queued and running jobs would go past the cap."""
    cap = job_cap(user)
    if cap is None:
        return
    active = await users.active_jobs(session, owner_id=user.id)
    if active + new_jobs > cap:
        raise too_many_jobs(active, cap)


async def refuse_over_quota(session: AsyncSession, *, user: User) -> ProblemError:
    """The 429 for a submit whose statement found the user at the cap (db.jobs.submit_job_within_quota)."""
    cap = job_cap(user)
    assert cap is not None  # an uncapped submit is never refused
    return too_many_jobs(await users.active_jobs(session, owner_id=user.id), cap)


async def check_collection_quota(session: AsyncSession, *, user: User) -> None:
    """429 `too_many_collections` when the user already owns the most collections allowed."""
    cap = get_settings().max_collections_per_user
    if not user.is_superuser and await users.private_collections(session, owner_id=user.id) >= cap:
        raise ProblemError(
            429,
            "too_many_collections",
            f"you own {cap} collections, the most allowed; delete one's documents or reuse one",
        )
