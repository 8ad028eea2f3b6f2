"""/v1/search and /v1/admin/embeddings."""

from __future__ import annotations

from fastapi import APIRouter

from api.openapi import problems
from api.search import service as search_service
from api.search.schemas import SearchRequest, SearchResponse
from api.shared import CurrentUser, SessionDep

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse, responses=problems(404))
async def search(request: SearchRequest, session: SessionDep, user: CurrentUser) -> SearchResponse:
    """Hybrid (reciprocal rank fusion of vector and full-text), vector or keyword search."""
    return await search_service.search(session, user=user, request=request)


@router.get("/admin/embeddings", responses=problems(403))
async def embedding_status(session: SessionDep, user: CurrentUser) -> dict:
    """Embedding coverage per model, the active model and the configured one (admins)."""
    return await search_service.embedding_status(session, user=user)


@router.post("/admin/embeddings/reembed", responses=problems(403))
async def reembed_now(session: SessionDep, user: CurrentUser) -> dict:
    """Run a re-embedding pass now (admins), as beat does every MENTORQ_REEMBED_EVERY_SECONDS but
    without its back-off after a failed `reembed` job: `queued` jobs (listed under kind `reembed`),
    `switched_from` when the configured model took over, or why nothing was queued (`waiting`:
    earlier jobs still run; `busy`: another pass is at it)."""
    return await search_service.reembed_now(session, user=user)
