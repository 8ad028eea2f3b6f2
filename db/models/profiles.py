"""Profiles: who a learner is (an account's profile, or a person without one) and its revisions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class Profile(Base):
    """Who a learner is. An account's profile (user_id), or a person without one (external_id, admins)."""

    __tablename__ = "profiles"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(200))
    username: Mapped[str] = mapped_column(String(40))
    display_name: Mapped[str | None] = mapped_column(Text)
    bio: Mapped[str | None] = mapped_column(Text)
    skills: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    interests: Mapped[list[str]] = mapped_column(JSONB, default=list)
    goals: Mapped[list[str]] = mapped_column(JSONB, default=list)
    level: Mapped[str | None] = mapped_column(String(16))
    wiki_content: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # The wiki's document in the user's private `profile` collection (None until it has content).
    wiki_document_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("uq_profiles_user_id", "user_id", unique=True, postgresql_where=text("user_id IS NOT NULL")),
        Index(
            "uq_profiles_external_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
        Index("uq_profiles_username", text("lower(username)"), unique=True),
    )
    __mapper_args__ = {"eager_defaults": True}


class ProfileRevision(Base):
    """A profile as it was after one change; kept so any of them can be restored."""

    __tablename__ = "profile_revisions"

    profile_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True
    )
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # edit | restore:<n> | ingest:<job id> | admin:<user id> | created
    source: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __mapper_args__ = {"eager_defaults": True}
