"""Schemas of LLM routing: the providers' status (GET /v1/models) and the routing table
(/v1/admin/llm-routes). The admin console renders the same objects."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

MAX_TOKENS_CAP = 32768
StatedTokenCap = Annotated[int, WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_TOKENS_CAP})]
MAX_FALLBACKS = 4


class ProviderError(BaseModel):
    code: str = Field(
        description="not_configured, key_missing, key_refused, unreachable, server_error or not_installed"
    )
    detail: str | None = None


class ProviderStatus(BaseModel):
    """One provider now. Its key, if any, is never shown."""

    name: str = Field(description="ollama, local, openai_compatible or anthropic")
    configured: bool = Field(description="its settings are present (MENTORQ_OPENAI_BASE_URL, a key, ...)")
    available: bool = Field(description="it answered a model listing just now (cached a few seconds)")
    base_url: str | None
    default_model: str | None = Field(description="what answers when a route names no model")
    models: list[str]
    error: ProviderError | None = None


class ProviderStatusList(BaseModel):
    items: list[ProviderStatus]


class LLMTarget(BaseModel):
    """A provider and model (null: the provider's default)."""

    model_config = ConfigDict(extra="forbid")

    provider: str
    model: str | None = None


class LLMRouteUpdate(BaseModel):
    """A kind's route. Limits are checked by the service, each refusal with its own code."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(description="ollama, local, openai_compatible or anthropic")
    model: str | None = Field(None, description="null: the provider's default model")
    fallbacks: list[LLMTarget] = Field(
        default_factory=list,
        description=f"tried in order when the one before is unavailable (at most {MAX_FALLBACKS})",
    )
    # The bounds are stated for clients and enforced by the service, whose refusal has its own code
    # (invalid_max_tokens).
    max_tokens: StatedTokenCap | None = Field(
        None,
        description=f"1..{MAX_TOKENS_CAP}: caps the tokens the kind asks for (null: no cap)",
    )
    temperature: float | None = Field(
        None, description="0..2: replaces the temperature the kind asks for (null: the kind's)"
    )


class TargetStatus(BaseModel):
    """One target of a route (the primary first, then the fallbacks) as its provider stands now."""

    provider: str
    model: str | None
    configured: bool
    available: bool
    model_listed: bool | None = Field(
        None, description="the provider lists the model (its default when null); null when unknown"
    )
    error: ProviderError | None = None


class LLMRouteRead(BaseModel):
    kind: str
    provider: str
    model: str | None
    fallbacks: list[LLMTarget]
    max_tokens: int | None
    temperature: float | None
    updated_by: uuid.UUID | None
    updated_at: datetime
    targets: list[TargetStatus]


class LLMRouteList(BaseModel):
    items: list[LLMRouteRead]
    routable_kinds: list[str] = Field(description="the kinds that call an LLM (a route may be set for each)")
    default: LLMTarget = Field(description="what a kind without a route uses (MENTORQ_LLM_PROVIDER)")
    providers: list[ProviderStatus]
