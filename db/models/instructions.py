"""Instructions: versioned system prompts per kind, the labels that point at one, the log of moves."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class Instruction(Base):
    """One immutable version of a kind's instructions (the operator-editable part of its prompt)."""

    __tablename__ = "instructions"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class InstructionLabel(Base):
    """Which version of a kind is `active`; moving it back is the rollback."""

    __tablename__ = "instruction_labels"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    active_version: Mapped[int] = mapped_column(Integer)
    moved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    moved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class InstructionLabelMove(Base):
    """The label's history: every move, who made it."""

    __tablename__ = "instruction_label_moves"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer)
    moved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    moved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
