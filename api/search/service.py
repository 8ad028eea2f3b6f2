"""POST /v1/search: embed the query on a `query` worker (the API loads no model), then hybrid search."""

from __future__ import annotations

import json
import logging
import time
import uuid

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from api.documents.service import readable_collection_ids
from api.errors import ProblemError
from api.search.schemas import SearchHit, SearchRequest, SearchResponse
from api.shared import require_admin
from core.broker import platform_task_message, send_async
from core.platform_tasks import EMBED_QUERY
from core.redis_clients import get_async_broker_redis
from core.settings import get_settings
from db import embeddings
from db import search as search_queries
from db.models import User
from db.unit_of_work import commit_async
from tasks.reembed.advance import advance

log = logging.getLogger(__name__)

CANDIDATES_PER_RESULT = 4  # each list brings 4k candidates to the fusion (at least 40)


async def embed_query(query: str, *, model: str) -> list[float]:
    """Ask a `query` worker for the vector; 503 if none answers in time."""
    settings = get_settings()
    timeout = settings.search_embed_timeout_seconds
    reply_key = f"mentorq:reply:{uuid.uuid4().hex}"
    try:
        # At the head of its own lane (the most urgent priority): a person is waiting on it.
        message = platform_task_message(
            EMBED_QUERY, args=[query, model, reply_key], priority=9, expires=timeout
        )
        with anyio.fail_after(timeout):
            await send_async([message])
        redis = get_async_broker_redis()  # where the query worker pushes its reply
        deadline = time.monotonic() + timeout
        reply = None
        while reply is None and time.monotonic() < deadline:
            # Short blocking pops: the client's socket timeout stays the normal one.
            reply = await redis.blpop([reply_key], timeout=1)
    except Exception as error:  # noqa: BLE001 - Redis down or publishing failed
        raise ProblemError(
            503,
            "embedding_unavailable",
            f"could not reach a query worker: {type(error).__name__}",
            headers={"Retry-After": "5"},
        ) from None
    if reply is None:
        raise ProblemError(
            503,
            "embedding_unavailable",
            f"no query worker embedded the query within {timeout:g} s",
            headers={"Retry-After": "5"},
        )
    body = json.loads(reply[1])
    if "error" in body:
        raise ProblemError(
            503, body["error"]["code"], body["error"]["message"], headers={"Retry-After": "30"}
        )
    return body["vector"]


async def search(session: AsyncSession, *, user: User, request: SearchRequest) -> SearchResponse:
    """Ranked chunks from the collections the user can read, with the parts of each score."""
    collection_ids = await readable_collection_ids(session, user=user, names=request.collections)
    return await _search_in(session, collection_ids=collection_ids, request=request)


async def search_collection(
    session: AsyncSession,
    *,
    user: User,
    collection_id: uuid.UUID,
    query: str,
    mode: str = "hybrid",
    k: int = 10,
) -> SearchResponse:
    """An admin's search of one collection, whoever owns it (the console's library page)."""
    require_admin(user, to="search any collection")
    request = SearchRequest(query=query, mode=mode, k=k)
    return await _search_in(session, collection_ids=[collection_id], request=request)


async def _search_in(
    session: AsyncSession, *, collection_ids: list[uuid.UUID], request: SearchRequest
) -> SearchResponse:
    timings: dict[str, float] = {}
    filters = search_queries.SearchFilters(
        collection_ids=collection_ids,
        tags=request.filters.tags,
        resource_types=request.filters.type,
        document_ids=request.filters.document,
        speakers=request.filters.speakers,
    )
    limit = max(40, request.k * CANDIDATES_PER_RESULT)
    model = None
    vector_hits: list[tuple[int, float]] = []
    keyword_hits: list[int] = []
    if request.mode in ("hybrid", "vector"):
        model = await embeddings.get_active_model(session, default=get_settings().embed_model)
        await commit_async(session)
        started = time.perf_counter()
        vector = await embed_query(request.query, model=model)
        timings["embed_ms"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        vector_hits = await session.run_sync(
            lambda sync: search_queries.vector_ranks(
                sync, vector=vector, model=model, dim=len(vector), filters=filters, limit=limit
            )
        )
        timings["vector_ms"] = (time.perf_counter() - started) * 1000
    if request.mode in ("hybrid", "keyword"):
        started = time.perf_counter()
        keyword_hits = await session.run_sync(
            lambda sync: search_queries.keyword_ranks(sync, query=request.query, filters=filters, limit=limit)
        )
        timings["keyword_ms"] = (time.perf_counter() - started) * 1000
    hits = search_queries.fuse(vector_hits, keyword_hits, mode=request.mode, k=request.k)
    details = await session.run_sync(
        lambda sync: search_queries.chunk_details(sync, chunk_ids=[hit.chunk_id for hit in hits])
    )
    await commit_async(session)
    items = [
        SearchHit(
            chunk_id=hit.chunk_id,
            score=hit.score,
            vector_rank=hit.vector_rank,
            keyword_rank=hit.keyword_rank,
            vector_distance=hit.vector_distance,
            text=row["text"],
            position=row["position"],
            heading_path=row["heading_path"] or [],
            start_s=row["start_s"],
            end_s=row["end_s"],
            page=row["page"],
            speakers=row["speakers"] or [],
            document_id=row["document_id"],
            document_title=row["title"] or row["filename"],
            source_url=row["source_url"],
            collection=row["collection"],
            tags=row["tags"] or [],
            resource_type=row["resource_type"],
            level=row["level"],
        )
        for hit in hits
        if (row := details.get(hit.chunk_id)) is not None
    ]
    return SearchResponse(
        query=request.query, mode=request.mode, model=model, items=items, timings_ms=timings
    )


async def embedding_status(session: AsyncSession, *, user: User) -> dict:
    """Coverage per embedding model (admins)."""
    require_admin(user, to="see embedding coverage")
    settings = get_settings()
    active = await embeddings.get_active_model(session, default=settings.embed_model)
    total, coverage = await embeddings.embedding_coverage(session)
    await commit_async(session)
    models = sorted(set(coverage) | {active, settings.embed_model})
    return {
        "active_model": active,
        "configured_model": settings.embed_model,
        "reembedding": active != settings.embed_model,
        "searchable_chunks": total,
        "models": [
            {
                "model": model,
                "embedded": coverage.get(model, 0),
                "coverage": (coverage.get(model, 0) / total) if total else 1.0,
                "active": model == active,
            }
            for model in models
        ],
    }


async def reembed_now(session: AsyncSession, *, user: User) -> dict:
    """Run a re-embedding pass at once (admins): what beat runs every MENTORQ_REEMBED_EVERY_SECONDS
    (tasks/reembed/advance.py), except that it does not wait out the back-off after a failed
    `reembed` job: the admin asking has presumably fixed its cause. Says what the pass did."""
    require_admin(user, to="start a re-embedding")
    settings = get_settings()
    done = await session.run_sync(
        lambda sync_session: advance(
            sync_session,
            target=settings.embed_model,
            batch=settings.reembed_batch_chunks,
            despite_failures=True,
        )
    )
    await commit_async(session)  # the jobs' messages go once they are committed
    log.info("re-embedding pass run by admin %s: %s", user.id, done)  # who started it, beside its jobs
    return done
