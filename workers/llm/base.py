"""The LLM provider interface, its result type and its errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from core.redaction import scrub

DEFAULT_MAX_TOKENS = 512

TokenCallback = Callable[[str], None]


class LLMError(Exception):
    """A provider failed; `code` is the stable machine code a job's error carries.

    Its message is scrubbed when it is made (core/redaction.py): it goes to the job's error, its
    events (a fallback's reason) and the logs, and it may quote a client's exception or a server's
    answer, which can name the full URL asked (`?api-key=…`) or echo a key."""

    code = "llm_error"

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(scrub(str(message)), *args)


class LLMUnavailable(LLMError):
    """The backend cannot be reached (down, refused, timed out); the job may be retried."""

    code = "llm_unavailable"


class LLMNotConfigured(LLMUnavailable):
    """The provider cannot be used as configured: its key or address is missing, or the service
    refused the key (401/403). Configuration, not an outage: a route skips to its next fallback,
    and a job with none left fails at once (same code, `llm_unavailable`) instead of waiting for
    half an hour for a key that will not change by itself."""


class TimeLimitReached(LLMError):
    """The job's time limit came while waiting on the model (workers/deadline.py); not retried."""

    code = "timeout"


class ModelNotFound(LLMError):
    """The backend does not have the requested model."""

    code = "model_not_found"


class ContextTooLong(LLMError):
    """The prompt does not fit the model's context window; the same job would fail again."""

    code = "context_too_long"


class LLMInvalidOutput(LLMError):
    """The model's answer did not parse or validate, even after one corrective retry."""

    code = "llm_invalid_output"

    def __init__(self, message: str, *, raw_text: str = "") -> None:
        super().__init__(message)
        self.raw_text = raw_text


@dataclass
class ChatResult:
    """One finished chat completion."""

    text: str
    model: str
    provider: str
    prompt_tokens: int
    completion_tokens: int


@runtime_checkable
class LLMProvider(Protocol):
    """What every LLM backend offers to tasks."""

    name: str

    def chat(
        self,
        messages: list[dict],
        *,
        model: str | None = None,
        json_schema: dict | None = None,
        options: dict | None = None,
        on_token: TokenCallback | None = None,
    ) -> ChatResult:
        """Complete `messages`; stream deltas to `on_token` when given (its exceptions propagate)."""
        ...

    def list_models(self) -> list[str]:
        """The model names this backend can serve now."""
        ...


def option(options: dict | None, key: str, default: Any = None) -> Any:
    """One generation option, or `default` when absent or None."""
    if not options or options.get(key) is None:
        return default
    return options[key]


def sampling_options(options: dict | None) -> dict[str, Any]:
    """The sampling options a provider sends under their common names (temperature, top_p, seed,
    stop), the seed defaulting to MENTORQ_LLM_SEED so that the same prompt gives the same answer."""
    from core.settings import get_settings

    chosen = {
        key: options[key]
        for key in ("temperature", "top_p", "seed", "stop")
        if option(options, key) is not None
    }
    if "seed" not in chosen and (seed := get_settings().llm_seed) >= 0:
        chosen["seed"] = seed
    return chosen


def generation_style(provider: LLMProvider) -> str:
    """`extractive` or `written` (MENTORQ_GENERATION_STYLE): `auto` is extractive on the embedded local
    model, whose 135M parameters cannot keep written prose faithful, and written on every other."""
    from core.settings import get_settings

    chosen = get_settings().generation_style
    if chosen == "auto":
        return "extractive" if provider.name == "local" else "written"
    return chosen
