"""The two account messages: confirm your e-mail address, reset your password.

The link goes to the learning site's own page (MENTORQ_PUBLIC_URL), with the token after `#`: a
fragment never leaves the browser, so it is in no server's access log; the page posts it to the API.
The token is also in the text, for clients that are not a browser.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import formatdate
from math import ceil

from core.settings import Settings

DEFAULT_SITE = "http://127.0.0.1:8000"

TEXTS = {
    "verify": (
        "Confirm your e-mail address",
        "verify-email",
        "Someone (we hope you) signed up with this address. To confirm it, open this link:",
        "POST /auth/verify",
        "verify_token_minutes",
    ),
    "reset": (
        "Reset your password",
        "reset-password",
        "Someone (we hope you) asked to reset the password of the account with this address. "
        "To choose a new one, open this link:",
        "POST /auth/reset-password",
        "reset_token_minutes",
    ),
}


def account_message(
    settings: Settings, *, mail_id: uuid.UUID, kind: str, to: str, token: str
) -> EmailMessage:
    """The message of one account mail. Its Message-ID is the same on every attempt, so a receiver
    that got an attempt whose answer was lost can tell the second copy for what it is."""
    subject, page, opening, route, lifetime_setting = TEXTS[kind]
    minutes = ceil(getattr(settings, lifetime_setting))
    site = settings.public_url or DEFAULT_SITE
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<account-mail-{mail_id}@mentorq>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        f"{opening}\n\n{site}/{page}#token={token}\n\n"
        f"The link works for {minutes} minutes, once. If it was not you, ignore this message: "
        f"nothing changes.\n\nFor an API client, the token ({route}):\n{token}\n"
    )
    return message
