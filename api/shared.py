"""What every feature's HTTP side shares, and nothing more: the database session, the current user,
the admin check, "parse an id, load it, or 404", the keyset page cursor, an uploaded file, the check
on a URL a worker will fetch, and the learning session a learning request names.

A feature imports this module and `api.jobs` (every feature's work is a job), never another
feature's service (import-linter's feature-independence contract names the few exceptions)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import CurrentUser  # noqa: F401  (re-exported for routes)
from api.errors import ProblemError
from core.documents.detect import detect_format
from core.documents.errors import ERROR_STATUS, DocumentError
from core.net.guard import WebhookAddressError, check_url_syntax
from core.settings import get_settings
from db import learning_sessions
from db.models import User
from db.session import get_async_session

SessionDep = Annotated[AsyncSession, Depends(get_async_session)]

Found = TypeVar("Found")


def require_admin(user: User, *, to: str) -> None:
    """403 `admin_only` unless the user is an admin; `to` says what only admins may do."""
    if not user.is_superuser:
        raise ProblemError(403, "admin_only", f"only admins {to}")


def parse_id(raw: str | uuid.UUID, *, code: str, detail: str) -> uuid.UUID:
    """An id from a path. A malformed one is as unknown as a missing one: 404 `code`, not 422."""
    if isinstance(raw, uuid.UUID):
        return raw
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ProblemError(404, code, detail) from None


async def get_or_404(
    raw: str | uuid.UUID,
    load: Callable[[uuid.UUID], Awaitable[Found | None]],
    *,
    code: str,
    detail: str,
) -> Found:
    """Parse the id, load the row (`load` applies who may see it), or 404 `code` either way."""
    found = await load(parse_id(raw, code=code, detail=detail))
    if found is None:
        raise ProblemError(404, code, detail)
    return found


class Keyed(Protocol):
    id: uuid.UUID
    created_at: datetime


def encode_cursor(row: Keyed, *, at: datetime | None = None) -> str:
    """The cursor after `row` in a newest-first page on (created_at, id); `at` for another time column."""
    stamp = row.created_at if at is None else at
    return base64.urlsafe_b64encode(f"{stamp.isoformat()}|{row.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, row_id = raw.split("|")
        return datetime.fromisoformat(created_at), uuid.UUID(row_id)
    except (ValueError, UnicodeDecodeError):
        raise ProblemError(
            400, "invalid_cursor", "the cursor is malformed; use next_cursor from a previous page"
        ) from None


@dataclass
class Upload:
    filename: str | None
    content_type: str | None
    content: bytes


def check_person_source(upload: Upload, *, what: str) -> None:
    """A file about a person (a profile source, a CV) the ingestion would read: within
    MENTORQ_MAX_PROFILE_SOURCE_BYTES, not empty, of a format the parsers know; else the refusal a
    document upload gives (413 `too_large`, 422 `empty_document`, 415 `unsupported_type`, …)."""
    limit = get_settings().max_profile_source_bytes
    if len(upload.content) > limit:
        raise ProblemError(413, "too_large", f"the {what} is over {limit} bytes")
    if not upload.content.strip():
        raise ProblemError(422, "empty_document", f"the {what} is empty")
    try:
        detect_format(upload.filename, upload.content_type, upload.content[:8192])
    except DocumentError as error:
        raise ProblemError(ERROR_STATUS[error.code], error.code, error.message) from None


def check_fetchable_url(url: str, *, field: str) -> None:
    """Refuse, as a 422 problem, a URL a worker may not fetch (the SSRF guard's syntax check; the
    worker checks every hop's address again when it fetches)."""
    try:
        check_url_syntax(url, allow_http=True, allow_private=get_settings().fetch_allow_private)
    except WebhookAddressError as error:
        code = "url_forbidden" if error.code == "webhook_address_forbidden" else "url_invalid"
        raise ProblemError(
            422, code, error.message, errors=[{"path": field, "message": error.message}]
        ) from None


async def open_session_for(
    session: AsyncSession, *, user: User, session_id: uuid.UUID | None
) -> uuid.UUID | None:
    """For a learning request: the session id if it is the caller's and open (its activity is
    recorded in the caller's transaction); 404 if it is not theirs, 409 `session_closed` if it was
    ended or sat idle too long."""
    if session_id is None:
        return None
    idle = get_settings().session_idle_minutes
    try:
        found = await session.run_sync(
            lambda sync: learning_sessions.touch_open(
                sync, user_id=user.id, session_id=session_id, idle_minutes=idle
            )
        )
    except learning_sessions.SessionClosed:
        raise ProblemError(
            409, "session_closed", "the learning session was ended or expired; start a new one"
        ) from None
    if found is None:
        raise ProblemError(404, "session_not_found", "no such learning session")
    return found.id
