"""LLM routing for admins, and the providers' status for everyone: plain functions that return the
schemas, shared by the API routes and the admin console.

A route is stored whether or not its providers are configured (keys may come with the next
deploy); reading it shows each target's availability. Workers pick an edit up within
MENTORQ_LLM_ROUTE_CACHE_SECONDS.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from api.llm_routes.schemas import (
    MAX_FALLBACKS,
    MAX_TOKENS_CAP,
    LLMRouteList,
    LLMRouteRead,
    LLMRouteUpdate,
    LLMTarget,
    ProviderError,
    ProviderStatus,
    ProviderStatusList,
    TargetStatus,
)
from api.shared import require_admin
from core import lanes
from core.catalog import same_ollama_name
from core.llm_endpoints import PROVIDERS, ProviderProbe, probe_all
from core.settings import Settings, get_settings
from db import llm_routes
from db.llm_routes import RouteConfig, Target
from db.models import LLMRoute, User
from db.unit_of_work import commit_async
from tasks.registry import all_kinds

# What the admin check says only admins may do here (403 admin_only).
ADMINS_ONLY = "manage LLM routing"

MODEL_NAME_CHARS = 200


def routable_kinds(settings: Settings) -> list[str]:
    """The kinds with a stage on the LLM lane (debug ones only with MENTORQ_DEBUG_KINDS)."""
    return sorted(
        name
        for name, spec in all_kinds().items()
        if any(route.queue == lanes.LLM for route in spec.routes())
        and (settings.debug_kinds or not spec.debug_only)
    )


# --- providers --------------------------------------------------------------------------------


def _status(probe: ProviderProbe) -> ProviderStatus:
    error = ProviderError(code=probe.error_code, detail=probe.error_detail) if probe.error_code else None
    return ProviderStatus(
        name=probe.provider,
        configured=probe.configured,
        available=probe.available,
        base_url=probe.base_url,
        default_model=probe.default_model,
        models=probe.models,
        error=error,
    )


async def provider_statuses(*, settings: Settings | None = None, fresh: bool = False) -> ProviderStatusList:
    """Each provider: configured, answering now, its models and default model (never its key).
    Probed concurrently with short timeouts, cached a few seconds (core/llm_endpoints.py)."""
    probes = await probe_all(settings or get_settings(), fresh=fresh)
    return ProviderStatusList(items=[_status(probe) for probe in probes])


def _same_model(provider: str, a: str, b: str) -> bool:
    return same_ollama_name(a, b) if provider == "ollama" else a == b


def _target_status(target: LLMTarget, statuses: dict[str, ProviderStatus]) -> TargetStatus:
    status = statuses[target.provider]
    model = target.model or status.default_model
    listed = None
    if status.available and model:
        listed = any(_same_model(target.provider, model, offered) for offered in status.models)
    return TargetStatus(
        provider=target.provider,
        model=target.model,
        configured=status.configured,
        available=status.available,
        model_listed=listed,
        error=status.error,
    )


# --- routes -----------------------------------------------------------------------------------


def _read(row: LLMRoute, statuses: dict[str, ProviderStatus]) -> LLMRouteRead:
    fallbacks = [LLMTarget(provider=f["provider"], model=f.get("model")) for f in row.fallbacks or []]
    targets = [LLMTarget(provider=row.provider, model=row.model), *fallbacks]
    return LLMRouteRead(
        kind=row.kind,
        provider=row.provider,
        model=row.model,
        fallbacks=fallbacks,
        max_tokens=row.max_tokens,
        temperature=row.temperature,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        targets=[_target_status(t, statuses) for t in targets if t.provider in statuses],
    )


async def _statuses_by_name() -> dict[str, ProviderStatus]:
    return {status.name: status for status in (await provider_statuses()).items}


async def list_routes(session: AsyncSession, *, user: User) -> LLMRouteList:
    """Every route with its targets' availability, the kinds that can be routed, and the default."""
    require_admin(user, to=ADMINS_ONLY)
    settings = get_settings()
    statuses = await _statuses_by_name()
    return LLMRouteList(
        items=[_read(row, statuses) for row in await llm_routes.list_routes(session)],
        routable_kinds=routable_kinds(settings),
        default=LLMTarget(provider=settings.llm_provider, model=settings.llm_model),
        providers=list(statuses.values()),
    )


async def get_route(session: AsyncSession, *, user: User, kind: str) -> LLMRouteRead:
    """One kind's route; 404 `llm_route_not_found` when the kind uses the default."""
    require_admin(user, to=ADMINS_ONLY)
    _check_kind(kind)
    row = await session.get(LLMRoute, kind)
    if row is None:
        raise ProblemError(404, "llm_route_not_found", f"{kind} has no route: it uses MENTORQ_LLM_PROVIDER")
    return _read(row, await _statuses_by_name())


def _check_kind(kind: str) -> None:
    settings = get_settings()
    known = {name for name, spec in all_kinds().items() if settings.debug_kinds or not spec.debug_only}
    if kind not in known:
        raise ProblemError(404, "unknown_kind", f"there is no job kind {kind!r}")
    if kind not in routable_kinds(settings):
        raise ProblemError(
            422,
            "not_an_llm_kind",
            f"{kind} makes no LLM call; routable kinds: {', '.join(routable_kinds(settings))}",
        )


def _check_target(target: LLMTarget, where: str) -> Target:
    if target.provider not in PROVIDERS:
        raise ProblemError(
            422,
            "unknown_provider",
            f"{where}: unknown provider {target.provider!r}; providers: {', '.join(PROVIDERS)}",
        )
    if target.model is not None and not (0 < len(target.model.strip()) <= MODEL_NAME_CHARS):
        raise ProblemError(
            422, "invalid_model", f"{where}: a model name is 1 to {MODEL_NAME_CHARS} characters, or null"
        )
    return Target(target.provider, target.model.strip() if target.model is not None else None)


def validated_route(kind: str, request: LLMRouteUpdate) -> RouteConfig:
    """The route asked for, or a 4xx problem with a stable code for the first thing wrong with it."""
    _check_kind(kind)
    primary = _check_target(LLMTarget(provider=request.provider, model=request.model), "provider")
    if len(request.fallbacks) > MAX_FALLBACKS:
        raise ProblemError(422, "too_many_fallbacks", f"at most {MAX_FALLBACKS} fallbacks")
    fallbacks = tuple(_check_target(f, f"fallbacks[{i}]") for i, f in enumerate(request.fallbacks))
    seen = {primary}
    for index, target in enumerate(fallbacks):
        if target in seen:
            raise ProblemError(
                422,
                "duplicate_fallback",
                f"fallbacks[{index}] ({target.provider}, {target.model or 'its default model'}) "
                "is already in the route",
            )
        seen.add(target)
    if request.max_tokens is not None and not 1 <= request.max_tokens <= MAX_TOKENS_CAP:
        raise ProblemError(422, "invalid_max_tokens", f"max_tokens is 1 to {MAX_TOKENS_CAP}, or null")
    if request.temperature is not None and not 0 <= request.temperature <= 2:
        raise ProblemError(422, "invalid_temperature", "temperature is 0 to 2, or null")
    return RouteConfig(kind, primary, fallbacks, request.max_tokens, request.temperature)


async def put_route(session: AsyncSession, *, user: User, kind: str, request: LLMRouteUpdate) -> LLMRouteRead:
    """Create or replace a kind's route (validated first)."""
    require_admin(user, to=ADMINS_ONLY)
    route = validated_route(kind, request)
    row = await llm_routes.put_route(session, route=route, updated_by=user.id)
    await commit_async(session)
    return _read(row, await _statuses_by_name())


async def delete_route(session: AsyncSession, *, user: User, kind: str) -> bool:
    """Back to the default provider; idempotent (False when the kind had no route)."""
    require_admin(user, to=ADMINS_ONLY)
    _check_kind(kind)
    removed = await llm_routes.delete_route(session, kind=kind)
    await commit_async(session)
    return removed
