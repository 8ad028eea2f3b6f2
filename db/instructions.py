"""Versioned instructions per job kind: immutable versions, and an `active` label per kind whose
every move is kept. Jobs read the active version; admins add versions and move the label."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.models import Instruction, InstructionLabel, InstructionLabelMove, Job

# The kinds whose prompts carry instructions (version 1 of each ships in the migration).


@dataclass(frozen=True)
class ActiveInstructions:
    kind: str
    version: int | None  # None: the kind has no instructions (a kind added without a migration)
    text: str


def active_instructions(session: Session, *, kind: str) -> ActiveInstructions:
    row = session.execute(
        select(Instruction.version, Instruction.text)
        .join(
            InstructionLabel,
            (InstructionLabel.kind == Instruction.kind)
            & (InstructionLabel.active_version == Instruction.version),
        )
        .where(Instruction.kind == kind)
    ).first()
    if row is None:
        return ActiveInstructions(kind, None, "")
    return ActiveInstructions(kind, row.version, row.text)


def use_instructions(session: Session, *, kind: str, job_id: uuid.UUID) -> ActiveInstructions:
    """The active instructions, recorded on the job that is about to use them."""
    instructions = active_instructions(session, kind=kind)
    session.execute(update(Job).where(Job.id == job_id).values(instructions_version=instructions.version))
    return instructions


async def active_version(session: AsyncSession, *, kind: str) -> int | None:
    return (
        await session.execute(select(InstructionLabel.active_version).where(InstructionLabel.kind == kind))
    ).scalar_one_or_none()


async def labels(session: AsyncSession) -> dict[str, InstructionLabel]:
    rows = (await session.execute(select(InstructionLabel))).scalars()
    return {label.kind: label for label in rows}


async def versions(session: AsyncSession, *, kind: str) -> list[Instruction]:
    rows = await session.execute(
        select(Instruction).where(Instruction.kind == kind).order_by(Instruction.version.desc())
    )
    return list(rows.scalars())


async def version(session: AsyncSession, *, kind: str, number: int) -> Instruction | None:
    return await session.get(Instruction, (kind, number))


async def label_moves(session: AsyncSession, *, kind: str, limit: int = 50) -> list[InstructionLabelMove]:
    rows = await session.execute(
        select(InstructionLabelMove)
        .where(InstructionLabelMove.kind == kind)
        .order_by(InstructionLabelMove.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def add_version(
    session: AsyncSession, *, kind: str, text: str, note: str | None, created_by: uuid.UUID
) -> Instruction:
    """A new version numbered after the newest. The kind's label row is locked first, so two
    admins adding at once get consecutive numbers instead of a key conflict."""
    await session.execute(select(InstructionLabel).where(InstructionLabel.kind == kind).with_for_update())
    newest = (
        await session.execute(select(func.max(Instruction.version)).where(Instruction.kind == kind))
    ).scalar_one()
    instruction = Instruction(
        kind=kind, version=(newest or 0) + 1, text=text, note=note, created_by=created_by
    )
    session.add(instruction)
    await session.flush()
    return instruction


async def move_label(
    session: AsyncSession, *, kind: str, to_version: int, expected: int | None, moved_by: uuid.UUID
) -> tuple[InstructionLabel | None, int | None]:
    """Point `active` at `to_version`. With `expected`, only if it still points there (the caller's
    If-Match): returns (None, current) when another admin moved it first. The row lock makes two
    moves serial; both are logged."""
    label = (
        await session.execute(select(InstructionLabel).where(InstructionLabel.kind == kind).with_for_update())
    ).scalar_one_or_none()
    current = label.active_version if label else None
    if expected is not None and expected != current:
        return None, current
    if label is None:
        label = InstructionLabel(kind=kind, active_version=to_version, moved_by=moved_by)
        session.add(label)
    else:
        label.active_version = to_version
        label.moved_by = moved_by
        label.moved_at = func.now()
    session.add(
        InstructionLabelMove(kind=kind, from_version=current, to_version=to_version, moved_by=moved_by)
    )
    await session.flush()
    await session.refresh(label)
    return label, current
