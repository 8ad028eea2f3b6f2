"""One attempt at sending a message over SMTP (stdlib smtplib), or printing it where no server is set.

TLS as configured (`starttls`, `tls`, `none`), the server's certificate checked against the system's
CAs or, if set, only MENTORQ_SMTP_CA_FILE; AUTH when a username is set. Every failure becomes a
`MailError` with a stable code; its text never holds the message (and so never a token) or a
credential.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from core.settings import Settings

log = logging.getLogger(__name__)


class MailError(Exception):
    """A failed attempt: `code` is stable (docs/api/accounts.md lists them); `retryable` unless it
    cannot pass."""

    def __init__(self, code: str, detail: str, *, retryable: bool = True):
        super().__init__(f"{code}: {detail}")
        self.code, self.detail, self.retryable = code, detail, retryable


def send(settings: Settings, message: EmailMessage) -> None:
    """Send `message` through the configured transport; raises MailError."""
    transport = settings.mail_transport
    if transport == "log":
        # mentorq dev and the tests without a server: the message in the worker's log, link included.
        log.warning("MENTORQ_SMTP_HOST is not set: the message is printed, not sent\n%s", message.as_string())
        return
    if transport == "none":
        raise MailError("smtp_not_configured", "MENTORQ_SMTP_HOST is not set", retryable=False)
    try:
        _send_smtp(settings, message)
    except smtplib.SMTPAuthenticationError as error:
        raise MailError("smtp_auth_failed", f"the server refused the login ({error.smtp_code})") from None
    except ssl.SSLCertVerificationError as error:
        raise MailError(
            "smtp_certificate_untrusted", error.verify_message or "certificate not trusted"
        ) from None
    except ssl.SSLError as error:
        raise MailError("smtp_tls_failed", error.reason or type(error).__name__) from None
    except smtplib.SMTPNotSupportedError:
        raise MailError("smtp_tls_failed", "the server does not offer STARTTLS") from None
    except smtplib.SMTPRecipientsRefused:
        raise MailError("smtp_rejected", "the server refused the recipient") from None
    except smtplib.SMTPResponseException as error:
        raise MailError("smtp_rejected", f"the server answered {error.smtp_code}") from None
    except (OSError, smtplib.SMTPException) as error:  # refused, timed out, cut off, unresolvable
        raise MailError("smtp_unreachable", type(error).__name__) from None


def _send_smtp(settings: Settings, message: EmailMessage) -> None:
    host, port, timeout = settings.smtp_host or "", settings.smtp_port, settings.smtp_timeout_seconds
    context = tls_context(settings)
    if settings.smtp_tls == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if settings.smtp_tls == "starttls":
            client.starttls(context=context)
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            client.login(settings.smtp_username, password)
        client.send_message(message)


def tls_context(settings: Settings) -> ssl.SSLContext:
    """Certificates and host names checked: against the CA file alone if one is set, else the system's."""
    if settings.smtp_ca_file is not None:
        return ssl.create_default_context(cafile=str(settings.smtp_ca_file))
    return ssl.create_default_context()
