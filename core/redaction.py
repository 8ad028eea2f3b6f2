"""What no message, error or log line may carry: credentials in URLs, and this deployment's secrets.

`scrub(text)` turns every URL in `text` into its display form (core/net/display.py) and replaces
each configured secret value with `***`: every `SecretStr` setting (the providers' API keys), the
signing key, the GitHub client secret, the password of every URL setting (DATABASE_URL, REDIS_URL,
OLLAMA_HOST, MENTORQ_OPENAI_BASE_URL…) and those of its query values whose names say credential,
and Flower's basic-auth password. A secret can reach a text outside a URL: a server that echoes
the key it refused, a client's error that quotes a header, a traceback that prints a variable.

Values shorter than MIN_SECRET_CHARS are not searched for: they would match ordinary words (a
database password `mentorq` would blank the word everywhere). URLs never show them anyway.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote

from pydantic import SecretStr

from core.net.display import redact, url_parts
from core.settings import Settings, get_settings

MASK = "***"
MIN_SECRET_CHARS = 8
# Plain-string settings that are secrets (the SecretStr ones are found by their type).
SECRET_SETTINGS = ("secret_key", "github_client_secret")
# Query parameters of a URL setting whose values are credentials (?api-key=, ?token=, ?sig=); others
# (?host=/run/postgresql, ?sslmode=verify-full, ?api-version=…) are not, and stay readable in logs.
_CREDENTIAL_NAME = re.compile(r"key|token|secret|pass|pwd|auth|sig|cred|session", re.IGNORECASE)


def _url_secrets(url: str) -> Iterable[str]:
    parts = url_parts(url)
    user, _, password = (unquote(part) for part in (parts.userinfo or "").partition(":"))
    if password:
        yield password
        # As a client sends it (Authorization: Basic …), which a debug log of headers would print.
        yield base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if _CREDENTIAL_NAME.search(name):
            yield value


def configured_secrets(settings: Settings) -> frozenset[str]:
    """Every secret value of these settings (and of FLOWER_BASIC_AUTH), long enough to search for."""
    found: set[str] = set()
    for name, value in settings:
        if isinstance(value, SecretStr):
            found.add(value.get_secret_value())
        elif isinstance(value, str) and name in SECRET_SETTINGS:
            found.add(value)
        elif isinstance(value, str) and (name.endswith(("_url", "_host")) or "://" in value):
            found.update(_url_secrets(value))
    flower = os.environ.get("FLOWER_BASIC_AUTH", "")
    if ":" in flower:
        found.add(flower.partition(":")[2])
    # A secret appears percent-encoded where it was part of a URL a client printed.
    found |= {quote(secret, safe="") for secret in found}
    return frozenset(secret for secret in found if len(secret) >= MIN_SECRET_CHARS)


class Scrubber:
    """`scrub` for one set of secrets (the longest first, so a secret inside another goes whole)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        ordered = sorted(set(secrets), key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        """`text` with URLs in display form and no secret value left."""
        text = redact(text)
        return self._pattern.sub(MASK, text) if self._pattern is not None else text


_scrubbers: dict[int, tuple[Settings, Scrubber]] = {}
_lock = threading.Lock()


def scrubber(settings: Settings | None = None) -> Scrubber:
    """The scrubber of these settings (default: the process's), built once per settings object."""
    settings = settings or get_settings()
    with _lock:
        cached = _scrubbers.get(id(settings))
        if cached is None or cached[0] is not settings:
            _scrubbers.clear()  # one settings object per process in practice: keep only the latest
            cached = _scrubbers[id(settings)] = (settings, Scrubber(configured_secrets(settings)))
        return cached[1]


def scrub(text: str) -> str:
    """`text` safe to show or log: URLs in display form, this deployment's secrets as ***."""
    try:
        scrub_with = scrubber()
    except Exception:  # noqa: BLE001 - settings that do not load have no secrets to look for yet
        return redact(text)
    return scrub_with(text)
