"""The platform's own account, owner of the jobs beat creates (re-embedding); it cannot log in."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import User

SYSTEM_USER_ID = uuid.UUID("00000000-0000-5000-8000-00000000a11c")
SYSTEM_EMAIL = "system@mentorq.invalid"


def ensure_system_user(session: Session) -> uuid.UUID:
    """Create the inactive system user once; returns its id."""
    session.execute(
        insert(User)
        .values(
            id=SYSTEM_USER_ID,
            email=SYSTEM_EMAIL,
            hashed_password="!",  # matches no password hash
            is_active=False,
            is_superuser=False,
            is_verified=True,
        )
        .on_conflict_do_nothing()
    )
    return SYSTEM_USER_ID
