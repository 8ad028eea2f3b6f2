"""Account mail rows: record a message (the API), claim it, log how an attempt went, find lost ones.

A message is sent by the `io` worker (tasks/platform/account_mail.py), one attempt per task; a retry
goes back on the broker with its countdown, in the outbox of the transaction that scheduled it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.models import AccountMail, User
from db.unit_of_work import outbox

VERIFY = "verify"
RESET = "reset"
SENDING_LEASE_S = 120  # a message stuck in `sending` this long (its worker died) is tried again
LOST_AFTER_S = 60  # a message due this long ago and still pending lost its broker message


@dataclass(frozen=True)
class Recipient:
    """What the worker needs of the account to mint a token and address the message."""

    user_id: uuid.UUID
    email: str
    hashed_password: str
    is_active: bool
    is_verified: bool


async def record_mail(session: AsyncSession, *, user_id: uuid.UUID, kind: str) -> uuid.UUID:
    """A message to send once the transaction commits (commit it with `commit_async`)."""
    mail = AccountMail(user_id=user_id, kind=kind)
    session.add(mail)
    await session.flush()
    outbox(session).mails.append((mail.id, None))
    return mail.id


def claim_mail(session: Session, *, mail_id: uuid.UUID) -> tuple[AccountMail, Recipient | None] | None:
    """pending (and due), or sending past its lease -> sending, counting the attempt; None if another
    worker has it, it is not due, or it ended. The recipient is None when the account is gone."""
    mail = session.execute(
        update(AccountMail)
        .where(
            AccountMail.id == mail_id,
            or_(
                (AccountMail.status == "pending") & (AccountMail.next_attempt_at <= func.now()),
                (AccountMail.status == "sending") & (AccountMail.locked_until < func.now()),
            ),
        )
        .values(
            status="sending",
            attempts=AccountMail.attempts + 1,
            locked_until=func.now() + timedelta(seconds=SENDING_LEASE_S),
        )
        .returning(AccountMail)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if mail is None:
        return None
    row = session.execute(
        select(User.id, User.email, User.hashed_password, User.is_active, User.is_verified).where(
            User.id == mail.user_id
        )
    ).one_or_none()
    return mail, Recipient(*row) if row is not None else None


def record_outcome(
    session: Session, *, mail: AccountMail, status: str, error_code: str | None, retry_in_s: float | None
) -> None:
    """Move the message on: `sent`, `failed`, `dropped`, or `pending` again with its retry queued."""
    ended = status != "pending"
    session.execute(
        update(AccountMail)
        .where(AccountMail.id == mail.id)
        .values(
            status=status,
            error_code=error_code,
            locked_until=None,
            next_attempt_at=func.now() + timedelta(seconds=retry_in_s or 0),
            completed_at=func.now() if ended else None,
        )
    )
    if not ended:
        outbox(session).mails.append((mail.id, retry_in_s))


def lost_mails(session: Session, *, limit: int) -> list[uuid.UUID]:
    """Messages whose broker message was lost (the broker was down, Redis restarted empty) or whose
    worker died mid-send: the reconciler queues them again (the claim dedupes)."""
    now = func.now()
    result = session.execute(
        select(AccountMail.id)
        .where(
            or_(
                (AccountMail.status == "pending")
                & (AccountMail.next_attempt_at < now - timedelta(seconds=LOST_AFTER_S)),
                (AccountMail.status == "sending") & (AccountMail.locked_until < now),
            )
        )
        .order_by(AccountMail.next_attempt_at)
        .limit(limit)
    )
    return list(result.scalars())
