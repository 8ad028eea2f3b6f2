"""Versioned instructions for admins: history, new versions, and moving the `active` label
(conditionally, with If-Match, so two admins cannot silently undo each other)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from api.headers import parse_if_match
from api.instructions.schemas import InstructionHistory, InstructionKinds, InstructionRead, LabelMoveRead
from api.shared import require_admin
from db import instructions
from db.models import Instruction, User
from db.unit_of_work import commit_async
from tasks.registry import instructed_kinds

# What the admin check says only admins may do here (403 admin_only).
ADMINS_ONLY = "manage instructions"


def _check_kind(kind: str) -> None:
    if kind not in instructed_kinds():
        raise ProblemError(
            404,
            "instructions_not_found",
            f"no instructions for {kind!r}; kinds: {', '.join(instructed_kinds())}",
        )


def _read(row: Instruction, active: int | None) -> InstructionRead:
    return InstructionRead(
        kind=row.kind,
        version=row.version,
        text=row.text,
        note=row.note,
        active=row.version == active,
        created_by=row.created_by,
        created_at=row.created_at,
    )


async def kinds(session: AsyncSession, *, user: User) -> InstructionKinds:
    require_admin(user, to=ADMINS_ONLY)
    labels = await instructions.labels(session)
    items = []
    for kind in instructed_kinds():
        versions = await instructions.versions(session, kind=kind)
        label = labels.get(kind)
        items.append(
            {
                "kind": kind,
                "active_version": label.active_version if label else None,
                "newest_version": versions[0].version if versions else None,
            }
        )
    return InstructionKinds(items=items)


async def history(session: AsyncSession, *, user: User, kind: str) -> InstructionHistory:
    require_admin(user, to=ADMINS_ONLY)
    _check_kind(kind)
    active = await instructions.active_version(session, kind=kind)
    return InstructionHistory(
        kind=kind,
        active_version=active,
        versions=[_read(row, active) for row in await instructions.versions(session, kind=kind)],
        label_moves=[
            LabelMoveRead(
                from_version=m.from_version, to_version=m.to_version, moved_by=m.moved_by, moved_at=m.moved_at
            )
            for m in await instructions.label_moves(session, kind=kind)
        ],
    )


async def add_version(
    session: AsyncSession, *, user: User, kind: str, text: str, note: str | None
) -> InstructionRead:
    require_admin(user, to=ADMINS_ONLY)
    _check_kind(kind)
    row = await instructions.add_version(session, kind=kind, text=text, note=note, created_by=user.id)
    active = await instructions.active_version(session, kind=kind)
    await commit_async(session)
    return _read(row, active)


async def move_active(
    session: AsyncSession, *, user: User, kind: str, version: int, if_match: str | None
) -> InstructionHistory:
    """Point `active` at a version (a rollback is a move to an older one). With If-Match: "<n>",
    only if the label still points at n: 412 `label_moved` otherwise."""
    require_admin(user, to=ADMINS_ONLY)
    _check_kind(kind)
    expected = parse_if_match(if_match, required=False)
    if await instructions.version(session, kind=kind, number=version) is None:
        raise ProblemError(404, "instructions_version_not_found", f"{kind} has no version {version}")
    label, current = await instructions.move_label(
        session, kind=kind, to_version=version, expected=expected, moved_by=user.id
    )
    if label is None:
        raise ProblemError(
            412, "label_moved", f"another admin moved {kind}'s active label to version {current} meanwhile"
        )
    await commit_async(session)
    return await history(session, user=user, kind=kind)
