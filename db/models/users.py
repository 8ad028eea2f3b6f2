"""Accounts (fastapi-users' columns, plus when each was created), the provider accounts linked to
them (GitHub sign-in), and the tokens revoked by logging out.

The columns are fastapi-users' own (fastapi_users_db_sqlalchemy's SQLAlchemyBaseUserTableUUID and
SQLAlchemyBaseOAuthAccountTableUUID, 7.0.0), written out here rather than inherited: importing
those mixins imports all of fastapi-users and FastAPI, about a quarter of a Celery worker's start
(`python -X importtime`), and every worker imports these models while none signs anyone in. The API
still hands these classes to fastapi-users' SQLAlchemyUserDatabase (api/auth.py), which needs only
the attributes; the migrations already declare the same types."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base


class OAuthAccount(Base):
    """A GitHub account linked to a user (fastapi-users' columns: provider, its account id, token)."""

    __tablename__ = "oauth_accounts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    oauth_name: Mapped[str] = mapped_column(String(100), index=True, nullable=False)
    access_token: Mapped[str] = mapped_column(String(1024), nullable=False)
    expires_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    refresh_token: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    account_id: Mapped[str] = mapped_column(String(320), index=True, nullable=False)
    account_email: Mapped[str] = mapped_column(String(320), nullable=False)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True, nullable=False)
    hashed_password: Mapped[str] = mapped_column(String(1024), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Tokens issued before this instant are refused: set when a verified GitHub owner takes over an
    # account whose e-mail was never proven, so whoever registered it first is signed out everywhere.
    sessions_valid_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # selectin, not fastapi-users' suggested joined: a joined collection would force .unique() on
    # every query of users; the token check on each request opts out of loading it (db/users.py).
    oauth_accounts: Mapped[list[OAuthAccount]] = relationship(lazy="selectin", passive_deletes=True)


class RevokedToken(Base):
    """A token logged out before it expired; kept until then (retention deletes it after)."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_revoked_tokens_expires_at", "expires_at"),)
