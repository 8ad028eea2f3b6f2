"""Account mail on the `io` queue: one attempt per task, the retry back on the broker with its delay.

The token is minted here, at each attempt, and lives only in the message: the row records that a
message is owed, never what it says. After the last attempt the message is `failed` and an ERROR
line says so with a stable code (`account_mail_failed`); no line carries the token or the message.
"""

from __future__ import annotations

import logging
import uuid

from core import account_tokens
from core.platform_tasks import SEND_ACCOUNT_MAIL
from core.settings import Settings, get_settings
from db import account_mail
from db.unit_of_work import unit_of_work
from workers.celery_app import platform_task
from workers.mail.message import account_message
from workers.mail.smtp import MailError, send
from workers.webhooks.schedule import next_delay

log = logging.getLogger(__name__)


@platform_task(SEND_ACCOUNT_MAIL)
def send_account_mail(mail_id: str) -> str | None:
    """Make one attempt at one account mail; returns its new status (None: not ours to send now)."""
    settings = get_settings()
    with unit_of_work() as session:
        claimed = account_mail.claim_mail(session, mail_id=uuid.UUID(mail_id))
    if claimed is None:
        return None  # sent, failed, being sent, or not due yet
    mail, recipient = claimed
    status, error, retry_in = "sent", None, None
    if (
        recipient is None
        or not recipient.is_active
        or (mail.kind == account_mail.VERIFY and recipient.is_verified)
    ):
        status = "dropped"  # the account went, was deactivated, or proved its address meanwhile
    else:
        try:
            try:
                send(
                    settings,
                    account_message(
                        settings,
                        mail_id=mail.id,
                        kind=mail.kind,
                        to=recipient.email,
                        token=_token(settings, mail.kind, recipient),
                    ),
                )
            except MailError:
                raise
            except (
                Exception
            ) as unexpected:  # a bug, not the server: retried on the same schedule, then failed
                log.exception("account mail %s attempt %d: unexpected error", mail.id, mail.attempts)
                raise MailError("mail_internal_error", type(unexpected).__name__) from unexpected
        except MailError as failure:
            error = failure
            if failure.retryable:
                retry_in = next_delay(mail.attempts, None, schedule=settings.mail_retry_schedule)
            status = "pending" if retry_in is not None else "failed"
    with unit_of_work() as session:
        account_mail.record_outcome(
            session, mail=mail, status=status, error_code=error and error.code, retry_in_s=retry_in
        )
    if status == "failed":
        log.error(
            "account_mail_failed: %s mail %s gave up after %d attempts: %s (%s)",
            mail.kind,
            mail.id,
            mail.attempts,
            error.code if error else "",
            error.detail if error else "",
        )
    elif error is not None:
        log.warning(
            "account mail %s attempt %d: %s (%s); next in %.0f s",
            mail.id,
            mail.attempts,
            error.code,
            error.detail,
            retry_in or 0,
        )
    else:
        log.info("account mail %s (%s) attempt %d: %s", mail.id, mail.kind, mail.attempts, status)
    return status


def _token(settings: Settings, kind: str, recipient: account_mail.Recipient) -> str:
    if kind == account_mail.VERIFY:
        return account_tokens.verify_token(settings, user_id=recipient.user_id, email=recipient.email)
    return account_tokens.reset_token(
        settings, user_id=recipient.user_id, hashed_password=recipient.hashed_password
    )
