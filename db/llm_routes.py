"""The LLM routing table: per job kind a provider and model, fallbacks in order, and limits.

Workers read the whole (small) table at once and cache it a few seconds (workers/llm/routing.py);
the API reads and edits rows. What a job's answer is keyed by in the answer cache follows the
route too (`answer_identity`), so answers made under one route are never served under another.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.settings import Settings
from db.models import LLMRoute


@dataclass(frozen=True)
class Target:
    """One provider and model a route may ask (model None: the provider's default)."""

    provider: str
    model: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model}


@dataclass(frozen=True)
class RouteConfig:
    """A route as a plain value, fit to cache and to share between threads."""

    kind: str
    primary: Target
    fallbacks: tuple[Target, ...] = ()
    max_tokens: int | None = None
    temperature: float | None = None

    @property
    def targets(self) -> tuple[Target, ...]:
        """The primary, then the fallbacks, in the order they are tried."""
        return (self.primary, *self.fallbacks)

    @classmethod
    def of(cls, row: LLMRoute) -> RouteConfig:
        return cls(
            kind=row.kind,
            primary=Target(row.provider, row.model),
            fallbacks=tuple(Target(f["provider"], f.get("model")) for f in row.fallbacks or []),
            max_tokens=row.max_tokens,
            temperature=row.temperature,
        )


def answer_identity(route: RouteConfig | None, settings: Settings) -> str:
    """What the answer cache keys a kind's answers by: the settings' LLM, or the whole route (its
    providers, models and limits) when the kind has one. A route edit therefore starts a fresh cache
    for the kind; editing it back makes the earlier entries reachable again, rightly."""
    if route is None:
        return settings.llm_identity
    shape = {
        "targets": [t.as_json() for t in route.targets],
        "max_tokens": route.max_tokens,
        "temperature": route.temperature,
    }
    return "route:" + json.dumps(shape, sort_keys=True, separators=(",", ":"))


# --- workers (sync) ---------------------------------------------------------------------------


def all_routes(session: Session) -> dict[str, RouteConfig]:
    """Every route by kind (the table has a row per routed kind: a few dozen at most)."""
    return {row.kind: RouteConfig.of(row) for row in session.execute(select(LLMRoute)).scalars()}


# --- the API (async) ------------------------------------------------------------------------


async def list_routes(session: AsyncSession) -> list[LLMRoute]:
    return list((await session.execute(select(LLMRoute).order_by(LLMRoute.kind))).scalars())


async def route_of(session: AsyncSession, *, kind: str) -> RouteConfig | None:
    row = await session.get(LLMRoute, kind)
    return RouteConfig.of(row) if row is not None else None


async def put_route(session: AsyncSession, *, route: RouteConfig, updated_by: uuid.UUID | None) -> LLMRoute:
    """Create or replace the kind's route (one statement: two admins saving at once both succeed,
    the last one wins)."""
    values = {
        "kind": route.kind,
        "provider": route.primary.provider,
        "model": route.primary.model,
        "fallbacks": [t.as_json() for t in route.fallbacks],
        "max_tokens": route.max_tokens,
        "temperature": route.temperature,
        "updated_by": updated_by,
        "updated_at": func.now(),
    }
    statement = (
        insert(LLMRoute)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[LLMRoute.kind], set_={k: v for k, v in values.items() if k != "kind"}
        )
        .returning(LLMRoute)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one()


async def delete_route(session: AsyncSession, *, kind: str) -> bool:
    """Remove the kind's route (back to the settings' provider); False when it had none."""
    result = await session.execute(delete(LLMRoute).where(LLMRoute.kind == kind).returning(LLMRoute.kind))
    return result.first() is not None
