"""Accounts (fastapi-users' columns, plus when each was created), the provider accounts linked to
them (GitHub sign-in), and the tokens revoked by logging out."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi_users_db_sqlalchemy import SQLAlchemyBaseOAuthAccountTableUUID, SQLAlchemyBaseUserTableUUID
from sqlalchemy import DateTime, ForeignKey, Index, String, Uuid, func
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from db.base import Base


class OAuthAccount(SQLAlchemyBaseOAuthAccountTableUUID, Base):
    """A GitHub account linked to a user (fastapi-users' columns: provider, its account id, token)."""

    __tablename__ = "oauth_accounts"

    @declared_attr
    def user_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


class User(SQLAlchemyBaseUserTableUUID, Base):
    __tablename__ = "users"

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
