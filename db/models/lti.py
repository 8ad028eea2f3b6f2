"""LTI 1.3 platforms registered with this tool, the accounts their launches sign in (by issuer and
subject, never by e-mail), and the courses (contexts) with who is in them in which roles."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class LtiPlatform(Base):
    """One registration of this tool on a platform: its issuer and the client id it gave us."""

    __tablename__ = "lti_platforms"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str] = mapped_column(Text)
    deployment_ids: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    auth_login_url: Mapped[str] = mapped_column(Text)  # its OIDC authorization endpoint
    auth_token_url: Mapped[str] = mapped_column(Text)  # its OAuth 2 token endpoint (AGS, NRPS)
    jwks_url: Mapped[str] = mapped_column(Text)
    # Whose users its launches reach (db/lti.add_platform): the first live registration's id that
    # has the same issuer and key set (one platform, several client ids), else its own id.
    accounts_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("issuer", "client_id"),)


class LtiAccount(Base):
    """A platform user (its registrations' accounts key, sub) linked to the mentorq user its first
    launch created. The key, not the issuer, decides: a registration that names another's issuer
    but signs with keys of its own reaches none of its users."""

    __tablename__ = "lti_accounts"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    issuer: Mapped[str] = mapped_column(Text)
    accounts_key: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(255))  # LTI caps sub at 255 ASCII characters
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # What the platform last shared about the person (it may share nothing).
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_launch_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("accounts_key", "subject"),)


class LtiContext(Base):
    """A course (an LTI context) of a platform."""

    __tablename__ = "lti_contexts"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    platform_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(Text)
    memberships_url: Mapped[str | None] = mapped_column(Text)  # NRPS, from the latest launch
    # AGS: the course's line items container, from the latest launch that granted the line item
    # scope (mentorq may then list and create gradebook columns there).
    lineitems_url: Mapped[str | None] = mapped_column(Text)
    # When beat last queued a roster sync for the course (MENTORQ_LTI_ROSTER_SYNC_SECONDS).
    roster_queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)


class LtiMembership(Base):
    """A user's roles in a course, as the latest launch (or roster sync) said them."""

    __tablename__ = "lti_memberships"

    context_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_contexts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class LtiGradeLink(Base):
    """Where a learner's grades on an exercise go: the line item of the link they launched it from
    (Assignment and Grade Services), as the latest launch named it."""

    __tablename__ = "lti_grade_links"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    exercise_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exercises.id", ondelete="CASCADE"), primary_key=True
    )
    platform_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    lineitem_url: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(255))  # the learner's userId at the platform
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class LtiLineItem(Base):
    """A course's gradebook column for an exercise: the line item a deep-linked placement or a
    launch named, or one mentorq created (an exercise placed as a plain link has none). A launch
    of the exercise in the course without a line item of its own sends grades here."""

    __tablename__ = "lti_line_items"

    context_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_contexts.id", ondelete="CASCADE"), primary_key=True
    )
    exercise_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exercises.id", ondelete="CASCADE"), primary_key=True
    )
    lineitem_url: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(Text)
    created_by_tool: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class LtiRosterMember(Base):
    """A course's member as its platform's roster (NRPS) last said, launched here or not."""

    __tablename__ = "lti_roster_members"

    context_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_contexts.id", ondelete="CASCADE"), primary_key=True
    )
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)  # the member's user_id there
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    status: Mapped[str] = mapped_column(String(16))  # Active | Inactive | Deleted
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LtiRegistrationCode(Base):
    """A one-time registration URL an admin made for a platform's Dynamic Registration: the code is
    what lets a platform register, so only its SHA-256 is kept."""

    __tablename__ = "lti_registration_codes"

    code_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    platform_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lti_platforms.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
