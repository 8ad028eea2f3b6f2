"""/v1/admin/llm-routes: which provider and model answer each job kind, with fallbacks and limits."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.llm_routes import service as llm_route_service
from api.llm_routes.schemas import LLMRouteList, LLMRouteRead, LLMRouteUpdate
from api.openapi import problems
from api.shared import CurrentUser, SessionDep

router = APIRouter(prefix="/v1/admin/llm-routes", tags=["admin"], responses=problems(403))


@router.get("", response_model=LLMRouteList)
async def list_routes(session: SessionDep, user: CurrentUser) -> LLMRouteList:
    """Every route with its providers' availability now, the kinds that can be routed, the default
    (MENTORQ_LLM_PROVIDER) and every provider's status."""
    return await llm_route_service.list_routes(session, user=user)


@router.get("/{kind}", response_model=LLMRouteRead, responses=problems(404, 422))
async def get_route(kind: str, session: SessionDep, user: CurrentUser) -> LLMRouteRead:
    """One kind's route; 404 `llm_route_not_found` when it uses the default."""
    return await llm_route_service.get_route(session, user=user, kind=kind)


@router.put("/{kind}", response_model=LLMRouteRead, responses=problems(404, 422))
async def put_route(
    kind: str, request: LLMRouteUpdate, session: SessionDep, user: CurrentUser
) -> LLMRouteRead:
    """Create or replace the kind's route. Workers use it within MENTORQ_LLM_ROUTE_CACHE_SECONDS."""
    return await llm_route_service.put_route(session, user=user, kind=kind, request=request)


@router.delete("/{kind}", status_code=204, responses=problems(404, 422))
async def delete_route(kind: str, session: SessionDep, user: CurrentUser) -> Response:
    """Back to the default provider (idempotent)."""
    await llm_route_service.delete_route(session, user=user, kind=kind)
    return Response(status_code=204)
