"""Voice profiles: an enrolled person's voice (workers/recordings/voices.py), by which a recording's
speakers are named. Embeddings only; a clip's audio only when MENTORQ_VOICE_KEEP_AUDIO is set."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, REAL, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class VoiceProfile(Base):
    """A person a recording's speaker may be named as: a name, a role whose threshold applies
    (host or guest), and, when the person has an account, that account (deleted with it). A
    course's profile (course_id) names speakers of that course's recordings only, and goes with it."""

    __tablename__ = "voice_profiles"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(8))
    # Whose embeddings these are: a speaker is matched only against profiles of its encoder.
    encoder: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    enrolled_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("role IN ('host', 'guest')", name="role"),
        # Names are unique among the deployment-wide profiles, and within a course among its own.
        Index(
            "uq_voice_profiles_shared_name", "name", unique=True, postgresql_where=text("course_id IS NULL")
        ),
        Index(
            "uq_voice_profiles_course_name",
            "course_id",
            "name",
            unique=True,
            postgresql_where=text("course_id IS NOT NULL"),
        ),
    )
    __mapper_args__ = {"eager_defaults": True}


class VoiceClip(Base):
    """One reference clip of a profile: its embedding and how much voiced speech it held."""

    __tablename__ = "voice_clips"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    profile_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("voice_profiles.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str | None] = mapped_column(Text)
    voiced_s: Mapped[float] = mapped_column(Float)
    embedding: Mapped[list[float]] = mapped_column(ARRAY(REAL))
    audio: Mapped[bytes | None] = mapped_column(LargeBinary)  # only with MENTORQ_VOICE_KEEP_AUDIO
