"""xAPI statements waiting for, or sent to, the Learning Record Store: an outbox in PostgreSQL.

A statement is written in the transaction of the event it reports (a grade, a question), with an
id fixed then, so the event and its statement commit together; `xapi.send` jobs deliver it. The
LRS keeps one statement per id, so a batch sent again after a worker died adds nothing there."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class XapiStatement(Base):
    __tablename__ = "xapi_statements"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)  # the statement's id
    # The learner's: deleting the account deletes the statements not yet sent, so none leaves after.
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    verb: Mapped[str] = mapped_column(String(40))  # its short name (answered), for the console
    statement: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The `xapi.send` job delivering it, and since when: a job retried after its worker died takes
    # its own batch back; another job takes it only once the claim is stale.
    claimed_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The LRS refused this statement (400, 409): kept with the reason, never sent again.
    error_code: Mapped[str | None] = mapped_column(String(60))
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "ix_xapi_statements_unsent",
            "created_at",
            postgresql_where=text("sent_at IS NULL AND error_code IS NULL"),
        ),
    )
