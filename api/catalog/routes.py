"""/v1/kinds and /v1/models: what this deployment can do."""

from __future__ import annotations

import asyncio

import anyio
from fastapi import APIRouter

from api.catalog.schemas import KindList, KindRead
from api.llm_routes import service as llm_route_service
from api.shared import CurrentUser
from core.catalog import list_models
from core.settings import get_settings
from tasks.registry import enabled_kinds

router = APIRouter(prefix="/v1", tags=["catalog"])


@router.get("/kinds", response_model=KindList)
async def list_kinds(user: CurrentUser) -> KindList:
    """Every job kind with its input and output JSON schema."""
    kinds = enabled_kinds(include_debug=get_settings().debug_kinds)
    return KindList(
        items=[
            KindRead(
                name=kind.name,
                description=kind.description,
                queue=kind.queue,
                max_attempts=kind.max_attempts,
                time_limit_s=kind.soft_time_limit,
                input_schema=kind.input_model.model_json_schema(),
                output_schema=kind.output_model.model_json_schema(by_alias=True),
            )
            for kind in kinds.values()
        ]
    )


@router.get("/models")
async def models(user: CurrentUser) -> dict:
    """LLM and embedding models each provider offers (Ollama is asked live, with a short timeout),
    and under `providers` every LLM provider: configured, answering now (or why not: `error.code`),
    its models and default model. Keys are never shown."""
    settings = get_settings()
    catalog, providers = await asyncio.gather(
        anyio.to_thread.run_sync(list_models, settings),
        llm_route_service.provider_statuses(settings=settings),
    )
    return {**catalog, "providers": [status.model_dump() for status in providers.items]}
