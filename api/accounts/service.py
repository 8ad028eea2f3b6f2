"""Requests for account mail: counted, answered alike for every address, recorded for the worker.

No account enumeration: a known address, an unknown one, an inactive account and (for verification)
an account already verified all get the same status and body, after the same rate limits. What
remains is timing: a known address costs an INSERT, a commit and a broker publish that an unknown
one does not (no password hashing on either path: the worker mints the token). Every answer is
therefore held until RESPONSE_FLOOR_S after the request began, far above that difference on a
healthy database; the per-client and per-address limits bound how many samples anyone gets.
"""

from __future__ import annotations

import time

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from api.rate_limits import limit, spend
from core.settings import get_settings
from db import account_mail, users
from db.unit_of_work import commit_async

RESPONSE_FLOOR_S = 0.3


async def request_mail(session: AsyncSession, *, kind: str, email: str, client: str) -> None:
    """Count the request per client and per address (429 `rate_limited` past either), then record
    a message if the account may get one. Raises nothing else, whatever the address."""
    started = time.monotonic()
    settings = get_settings()
    address = email.strip().lower()
    for policy, expression, key in (
        ("account_mail_client", settings.account_mail_per_client, client),
        ("account_mail_address", settings.account_mail_per_address, address),
    ):
        refusal = await spend(limit(expression), policy, key)
        if refusal is not None:
            raise ProblemError(
                429, "rate_limited", "too many account mail requests; retry later", headers=refusal
            )
    user = await users.user_by_email(session, email=address)
    if user is not None and user.is_active and not (kind == account_mail.VERIFY and user.is_verified):
        await account_mail.record_mail(session, user_id=user.id, kind=kind)
        await commit_async(session)
    await anyio.sleep(max(0.0, RESPONSE_FLOOR_S - (time.monotonic() - started)))
