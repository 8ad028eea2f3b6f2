"""Hybrid search from inside a job (the insight, and later the assistant's kinds): the same queries
as POST /v1/search, with the query embedded in-process (the job's worker holds the model)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import tracing
from core.settings import get_settings
from db import course_scope, embeddings
from db import search as search_queries
from db.models import Collection
from workers.embeddings import get_embedding_provider

CANDIDATES = 40  # each list brings this many to the fusion, as the API's search does for k <= 10
# Fusion always returns k chunks if the library has any; a chunk counts as being *on* the query
# only if it shares a word with it or its embedding is this close (cosine distance; unrelated
# passages sit around 0.8-1.0 with all-MiniLM-L6-v2, related ones under 0.6).
RELEVANT_DISTANCE = 0.7


@dataclass
class Retrieved:
    """One chunk a job may cite: what the prompt shows, and what the output may point at."""

    chunk_id: int
    document_id: uuid.UUID
    title: str
    text: str
    collection: str
    score: float
    keyword_rank: int | None = None
    vector_distance: float | None = None
    url: str | None = None
    resource_type: str | None = None
    level: str | None = None
    page: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    speakers: list[str] = field(default_factory=list)  # who speaks in it (a transcript's chunk)

    @property
    def relevant(self) -> bool:
        return self.keyword_rank is not None or (
            self.vector_distance is not None and self.vector_distance <= RELEVANT_DISTANCE
        )

    def as_prompt_data(self, *, max_chars: int | None = None) -> dict[str, Any]:
        text = self.text if max_chars is None or len(self.text) <= max_chars else self.text[:max_chars] + "…"
        return {"chunk_id": self.chunk_id, "title": self.title, "text": text}


def readable_collections(session: Session, *, user_id: uuid.UUID) -> list[uuid.UUID]:
    """The shared library, the user's own collections and their courses' (db/course_scope.py)."""
    query = select(Collection.id).where(course_scope.collection_visible(user_id))
    return list(session.execute(query).scalars())


def query_vector(session: Session, query: str) -> tuple[str, list[float]]:
    """The active embedding model and the query's vector under it."""
    model = embeddings.get_active_model_sync(session, default=get_settings().embed_model)
    return model, get_embedding_provider(model).embed([query], model=model).vectors[0]


def hybrid_search(
    session: Session,
    *,
    query: str,
    collection_ids: list[uuid.UUID],
    k: int,
    embedded: tuple[str, list[float]] | None = None,
    speakers: list[str] | None = None,
) -> list[Retrieved]:
    """The k best chunks for `query` by reciprocal rank fusion of vector and keyword ranks
    (`embedded`: the query's model and vector when the caller has them already; `speakers`: only
    passages where one of them speaks), in a span of its own (holding the query's text only where
    traces may, core/tracing.py)."""
    attributes: dict[str, Any] = {"mentorq.search.k": k, "mentorq.search.collections": len(collection_ids)}
    if tracing.content_allowed():
        attributes["mentorq.search.query"] = query
    with tracing.tracer().start_as_current_span("search", attributes=attributes) as span:
        found = _hybrid_search(
            session, query=query, collection_ids=collection_ids, k=k, embedded=embedded, speakers=speakers
        )
        span.set_attribute("mentorq.search.results", len(found))
        return found


def _hybrid_search(
    session: Session,
    *,
    query: str,
    collection_ids: list[uuid.UUID],
    k: int,
    embedded: tuple[str, list[float]] | None = None,
    speakers: list[str] | None = None,
) -> list[Retrieved]:
    if not collection_ids or not query.strip():
        return []
    model, vector = embedded or query_vector(session, query)
    filters = search_queries.SearchFilters(collection_ids=collection_ids, speakers=speakers or ())
    vector_hits = search_queries.vector_ranks(
        session, vector=vector, model=model, dim=len(vector), filters=filters, limit=CANDIDATES
    )
    keyword_hits = search_queries.keyword_ranks(session, query=query, filters=filters, limit=CANDIDATES)
    hits = search_queries.fuse(vector_hits, keyword_hits, mode="hybrid", k=k)
    details = search_queries.chunk_details(session, chunk_ids=[hit.chunk_id for hit in hits])
    return [
        Retrieved(
            chunk_id=hit.chunk_id,
            document_id=row["document_id"],
            title=row["title"] or row["filename"] or "untitled",
            text=row["text"],
            collection=row["collection"],
            score=hit.score,
            keyword_rank=hit.keyword_rank,
            vector_distance=hit.vector_distance,
            url=row.get("source_url"),
            resource_type=row.get("resource_type"),
            level=row.get("level"),
            page=row.get("page"),
            start_s=row.get("start_s"),
            end_s=row.get("end_s"),
            speakers=row.get("speakers") or [],
        )
        for hit in hits
        if (row := details.get(hit.chunk_id)) is not None
    ]
