"""The hosted-API clients' errors (openai, anthropic: the same generated shape) in the providers' terms.

- no answer (refused, reset, timed out), 408, 409, 429, 5xx, Anthropic's 529: LLMUnavailable (an
  outage: the route falls back, the job waits and retries);
- 401 and 403: LLMNotConfigured (a missing or wrong key: falls back, never retried);
- 404: ModelNotFound; a prompt over the context window: ContextTooLong; any other refusal: LLMError;
- a timeout once the job's deadline has passed: TimeLimitReached (the job's own limit, not an outage).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import httpx2

from workers import deadline
from workers.llm.base import (
    ContextTooLong,
    LLMError,
    LLMNotConfigured,
    LLMUnavailable,
    ModelNotFound,
    TimeLimitReached,
)

_CONTEXT_MARKERS = (
    "context length",
    "context_length",
    "maximum context",
    "context window",
    "prompt is too long",
    "too many tokens",
)
MESSAGE_CHARS = 500


def status_error(status: int, message: str, *, where: str, model: str | None) -> LLMError:
    """The provider error for an HTTP error answer."""
    if status in (401, 403):
        # The service's own words are left out: some quote part of the key they refused.
        return LLMNotConfigured(f"{where} refused the key ({status})")
    if status == 404:
        return ModelNotFound(f"{where} has no model {model!r}: {message}")
    if status in (408, 409, 429) or status >= 500:
        return LLMUnavailable(f"{where} is busy or failing ({status}): {message}")
    if any(marker in message.lower() for marker in _CONTEXT_MARKERS):
        return ContextTooLong(f"the prompt does not fit {model!r}'s context: {message}")
    return LLMError(f"{where} refused the request ({status}): {message}")


@contextmanager
def api_errors(client: ModuleType, *, where: str, model: str | None = None) -> Iterator[None]:
    """Translate `client`'s (the openai or anthropic module) and httpx2's exceptions."""
    try:
        yield
    except client.APIStatusError as exc:
        message = str(getattr(exc, "message", exc))[:MESSAGE_CHARS]
        raise status_error(exc.status_code, message, where=where, model=model) from exc
    except (client.APITimeoutError, httpx2.TimeoutException) as exc:
        if deadline.passed():
            raise TimeLimitReached(f"{where} had not answered when the job's time limit came") from exc
        raise LLMUnavailable(f"{where} did not answer in time: {exc}") from exc
    except (client.APIConnectionError, httpx2.TransportError) as exc:
        raise LLMUnavailable(f"{where} is unreachable: {exc}") from exc
    except client.APIError as exc:  # an answer the client could not read
        raise LLMError(f"{where} answered something unreadable: {exc}"[:MESSAGE_CHARS]) from exc
