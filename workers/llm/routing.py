"""Routing a job's LLM calls by its kind (the `llm_routes` table, edited at /v1/admin/llm-routes).

Inside a job, `get_llm_provider()` returns a `RoutedProvider` for the job's kind:

- With a route, a call goes to the route's provider and model; the route's `max_tokens` caps what
  the kind asks for and its `temperature` replaces it.
- Without one, it goes to the settings' provider exactly as before (MENTORQ_LLM_PROVIDER).
- Either way, the provider and model that answered are noted on the running job, and the job
  runtime writes them on the job row in the job's last transaction: the transaction it pays anyway,
  and the job's final state (succeeded or failed) carries them together.

Fallbacks are tried in order on `llm_unavailable` only: the server down, refusing connections,
busy (429, 5xx), or its key missing or refused (LLMNotConfigured). Never on a bad answer, a missing
model, a prompt too long or the job's time limit: another model would not make those right, and
trying it would hide the fault. And never once a streamed token has reached the caller: the next
provider would start the answer again, and the client would see the text twice; the call fails
instead (and the job is retried as for any outage). Each fallback is an `llm_fallback` event on the
job's timeline ({from, to, reason}).

When no target of the route answers, the call raises LLMUnavailable (the job waits and retries),
or LLMNotConfigured when every target was unconfigured or refused its key: that is configuration,
and the job fails `llm_unavailable` at once instead of retrying for half an hour.

The table is read whole (a row per routed kind) at most every MENTORQ_LLM_ROUTE_CACHE_SECONDS per
process: a route edit applies to jobs that start within that time after it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core.llm_endpoints import endpoint
from core.settings import Settings, get_settings
from db import llm_routes
from db.llm_routes import RouteConfig, Target
from db.unit_of_work import unit_of_work
from workers.current_job import RunningJob
from workers.llm.base import (
    DEFAULT_MAX_TOKENS,
    ChatResult,
    LLMNotConfigured,
    LLMProvider,
    LLMUnavailable,
    TokenCallback,
    option,
)
from workers.llm.providers import provider_named

log = logging.getLogger(__name__)

REASON_CHARS = 300

_snapshot: tuple[float, dict[str, RouteConfig]] | None = None
_snapshot_lock = threading.Lock()


def routes(settings: Settings | None = None) -> dict[str, RouteConfig]:
    """Every route by kind, read at most every MENTORQ_LLM_ROUTE_CACHE_SECONDS. A failed read keeps
    using the last table read (a database blip must not change where jobs go)."""
    global _snapshot
    settings = settings or get_settings()
    with _snapshot_lock:
        if _snapshot is not None and time.monotonic() - _snapshot[0] < settings.llm_route_cache_seconds:
            return _snapshot[1]
    try:
        with unit_of_work() as session:
            table = llm_routes.all_routes(session)
    except Exception:
        if _snapshot is None:
            raise
        log.warning("could not read the LLM routes; using the last ones read", exc_info=True)
        return _snapshot[1]
    with _snapshot_lock:
        _snapshot = (time.monotonic(), table)
    return table


def forget_routes() -> None:
    """Read the table again on the next call (tests)."""
    global _snapshot
    with _snapshot_lock:
        _snapshot = None


def answer_identity(kind: str) -> str:
    """What the answer cache keys this kind's answers by (the API computes the same from the table)."""
    settings = get_settings()
    return llm_routes.answer_identity(routes(settings).get(kind), settings)


def for_job(job: RunningJob, default: Callable[[], LLMProvider]) -> LLMProvider:
    """The provider a call made by `job` goes to: its kind's route, else `default()`."""
    settings = get_settings()
    route = routes(settings).get(job.kind)
    return RoutedProvider(job, route, default, settings)


class RoutedProvider:
    """An LLMProvider that asks the targets of a route in turn, and notes who answered on the job."""

    def __init__(
        self,
        job: RunningJob,
        route: RouteConfig | None,
        default: Callable[[], LLMProvider],
        settings: Settings,
    ) -> None:
        self.job = job
        self.route = route
        self._default = default
        self._settings = settings
        self.name = route.primary.provider if route is not None else default().name

    def _provider(self, target: Target) -> LLMProvider:
        where = endpoint(self._settings, target.provider)
        if not where.configured:
            raise LLMNotConfigured(f"{target.provider} is not configured ({where.missing})")
        return provider_named(target.provider, self._settings)

    def _options(self, options: dict | None) -> dict | None:
        if self.route is None or (self.route.max_tokens is None and self.route.temperature is None):
            return options
        limited = dict(options or {})
        if self.route.max_tokens is not None:
            asked = option(options, "max_tokens", DEFAULT_MAX_TOKENS)
            limited["max_tokens"] = min(asked, self.route.max_tokens)
        if self.route.temperature is not None:
            limited["temperature"] = self.route.temperature
        return limited

    def chat(
        self,
        messages: list[dict],
        *,
        model: str | None = None,
        json_schema: dict | None = None,
        options: dict | None = None,
        on_token: TokenCallback | None = None,
    ) -> ChatResult:
        """Ask the route's targets in order until one answers (see the module's docstring)."""
        if self.route is None:
            result = self._default().chat(
                messages, model=model, json_schema=json_schema, options=options, on_token=on_token
            )
            self.job.answered(result.provider, result.model)
            return result

        options = self._options(options)
        targets = self.route.targets
        failures: list[tuple[Target, LLMUnavailable]] = []
        for index, target in enumerate(targets):
            # A model the job asked for applies on the primary when the route names none; a
            # fallback (another provider, most likely) uses its own model or its provider's default.
            chosen = target.model or (model if index == 0 else None)
            streamed = False

            def relay(delta: str) -> None:
                nonlocal streamed
                streamed = True
                on_token(delta)  # type: ignore[misc] - only passed when on_token is given

            try:
                result = self._provider(target).chat(
                    messages,
                    model=chosen,
                    json_schema=json_schema,
                    options=options,
                    on_token=relay if on_token is not None else None,
                )
            except LLMUnavailable as error:
                if streamed:
                    raise  # the caller has part of this answer: another provider would repeat it
                failures.append((target, error))
                if index + 1 < len(targets):
                    self._record_fallback(target, targets[index + 1], error)
                continue
            self.job.answered(result.provider, result.model)
            return result
        raise self._none_answered(failures)

    def _record_fallback(self, failed: Target, next_target: Target, error: LLMUnavailable) -> None:
        reason = "not_configured" if isinstance(error, LLMNotConfigured) else "unavailable"
        log.warning(
            "job %s (%s): %s did not answer (%s); falling back to %s",
            self.job.job_id,
            self.job.kind,
            failed.provider,
            error,
            next_target.provider,
        )
        self.job.add_event(
            "llm_fallback",
            {
                "from": failed.as_json(),
                "to": next_target.as_json(),
                "reason": reason,
                "message": str(error)[:REASON_CHARS],
            },
        )

    def _none_answered(self, failures: list[tuple[Target, LLMUnavailable]]) -> LLMUnavailable:
        described = "; ".join(f"{t.provider}{f' ({t.model})' if t.model else ''}: {e}" for t, e in failures)
        message = f"no provider of the {self.job.kind} route answered: {described}"
        if all(isinstance(error, LLMNotConfigured) for _, error in failures):
            return LLMNotConfigured(message)
        return LLMUnavailable(message)

    def list_models(self) -> list[str]:
        """The models of the route's primary provider (of the settings' one without a route)."""
        if self.route is None:
            return self._default().list_models()
        return self._provider(self.route.primary).list_models()
