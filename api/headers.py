"""Parsing of the request headers the job API honours: Prefer (RFC 7240) and Idempotency-Key."""

from __future__ import annotations

import re

from api.errors import ProblemError
from core.sql_limits import MAX_BIGINT

IDEMPOTENCY_KEY_MAX = 255
# The IETF draft makes the key a Structured Fields sf-string ("..."); bare tokens are accepted too.
_SF_STRING = re.compile(r'^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$')
_BARE_TOKEN = re.compile(r"^[A-Za-z0-9._~:/+=\-]+$")


def parse_idempotency_key(raw: str | None) -> str | None:
    """The key, or None when the header is absent; a malformed key is a 400 problem."""
    if raw is None:
        return None
    raw = raw.strip()
    match = _SF_STRING.match(raw)
    if match:
        key = re.sub(r'\\(["\\])', r"\1", match.group(1))
    elif _BARE_TOKEN.match(raw):
        key = raw
    else:
        key = ""
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:
        raise ProblemError(
            400,
            "invalid_idempotency_key",
            "Idempotency-Key must be a quoted string (or a token) of 1 to "
            f"{IDEMPOTENCY_KEY_MAX} printable characters",
        )
    return key


_SECONDS = re.compile(r"^[0-9]{1,10}$")  # ASCII digits only: str.isdigit() also takes '²' and '٣'
_EVENT_ID = re.compile(r"^[0-9]{1,19}$")
MAX_EVENT_ID = MAX_BIGINT  # event ids are PostgreSQL bigints


def parse_prefer_wait(raw: str | None, *, max_wait: int) -> int | None:
    """Seconds from `Prefer: wait=N`, capped at max_wait; None when there is no `wait` preference.

    Other preferences are ignored (RFC 7240). A `wait` whose value is not a number of seconds
    (empty, not ASCII digits, or over ten digits) is a client bug worth telling: 400 `invalid_prefer`,
    rather than answering at once as if the client had not asked to wait."""
    if not raw:
        return None
    for preference in re.split(r"[,;]", raw):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait":
            value = value.strip().strip('"')
            if not _SECONDS.match(value):
                raise ProblemError(
                    400, "invalid_prefer", "Prefer: wait=N takes a whole number of seconds (0 to 60)"
                )
            return min(int(value), max_wait)
    return None


def parse_last_event_id(raw: str | None) -> int:
    """The event id to resume after (0 without the header); 400 when it cannot be an id this API sent."""
    if raw is None or not raw.strip():
        return 0
    value = raw.strip()
    if not _EVENT_ID.match(value) or int(value) > MAX_EVENT_ID:
        raise ProblemError(
            400, "invalid_last_event_id", "Last-Event-ID must be the id of an event this API sent"
        )
    return int(value)


def parse_if_match(value: str | None, *, required: bool) -> int | None:
    """The revision an edit was made to, from `If-Match: "<revision>"` (the ETag the profile came with)."""
    if value is None:
        if required:
            raise ProblemError(
                428, "if_match_required", 'send If-Match: "<revision>" with the revision you edited'
            )
        return None
    cleaned = value.strip().removeprefix("W/").strip('"')
    if not cleaned.isdigit():
        raise ProblemError(400, "invalid_if_match", 'If-Match must be a revision in quotes, like "3"')
    return int(cleaned)
