"""The account a job runs for, read in the job's transaction: a job whose account was deleted after
it was queued fails `user_not_found` (not retried: the account will not come back)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from db.models import User
from workers.errors import JobFailure

DELETED = "the account was deleted"


def account_of_job(session: Session, user_id: uuid.UUID | None, *, message: str = DELETED) -> User:
    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise JobFailure("user_not_found", message)
    return user
