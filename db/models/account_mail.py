"""Account mail: one row per verification or password-reset message, and where its sending stands.

The row holds no token and no body: the `io` worker mints the token and renders the message at each
attempt (tasks/platform/account_mail.py), so nothing usable sits in the database, sent or not.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class AccountMail(Base):
    """A `verify` or `reset` message for one account; goes with the account (ON DELETE CASCADE)."""

    __tablename__ = "account_mails"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    # pending -> sending -> sent | pending (a retry) | failed | dropped (nothing to send any more:
    # the account was deactivated, or verified before its verification message went)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last failure's stable code (smtp_unreachable, smtp_auth_failed, ...); never a token.
    error_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_account_mails_user_id", "user_id"),
        Index(
            "ix_account_mails_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
    )
    __mapper_args__ = {"eager_defaults": True}
