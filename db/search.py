"""Chunk search: HNSW vector search, full-text search, and their reciprocal rank fusion.

Vector search uses the partial HNSW index of the active model, so the model name and dimension
are written into the SQL (the planner must see `model = '<literal>'` and the same cast as the
index). Filtered searches still fill k results thanks to pgvector's iterative index scans.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al.); damps the weight of top ranks
EF_SEARCH = 100
Mode = Literal["hybrid", "vector", "keyword"]


@dataclass
class SearchFilters:
    collection_ids: Sequence[uuid.UUID]
    tags: Sequence[str] = ()  # a document must carry all of them
    resource_types: Sequence[str] = ()
    document_ids: Sequence[uuid.UUID] = ()

    def sql(self) -> tuple[str, dict[str, Any]]:
        clauses = ["d.collection_id = ANY(:collection_ids)"]
        params: dict[str, Any] = {"collection_ids": list(self.collection_ids)}
        if self.tags:
            clauses.append("d.tags @> CAST(:tags AS jsonb)")
            params["tags"] = json.dumps(list(self.tags))
        if self.resource_types:
            clauses.append("d.resource_type = ANY(:resource_types)")
            params["resource_types"] = list(self.resource_types)
        if self.document_ids:
            clauses.append("d.id = ANY(:document_ids)")
            params["document_ids"] = list(self.document_ids)
        return " AND ".join(clauses), params


@dataclass
class Hit:
    chunk_id: int
    score: float
    vector_rank: int | None = None
    keyword_rank: int | None = None
    vector_distance: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


LIVE_CHUNKS = "chunks c JOIN documents d ON d.id = c.document_id AND c.generation = d.active_generation"


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def vector_ranks(
    session: Session, *, vector: list[float], model: str, dim: int, filters: SearchFilters, limit: int
) -> list[tuple[int, float]]:
    """(chunk id, cosine distance), nearest first, through the model's HNSW index."""
    where, params = filters.sql()
    cast = f"e.embedding::vector({int(dim)})"
    session.execute(text(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, limit)}"))
    session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
    rows = session.execute(
        text(
            f"""
            WITH nearest AS MATERIALIZED (
                SELECT c.id, {cast} <=> CAST(:vector AS vector({int(dim)})) AS distance
                FROM embeddings e JOIN {LIVE_CHUNKS} ON c.id = e.chunk_id
                WHERE e.model = {_sql_literal(model)} AND {where}
                ORDER BY {cast} <=> CAST(:vector AS vector({int(dim)}))
                LIMIT :limit
            )
            SELECT id, distance FROM nearest ORDER BY distance
            """
        ),
        {**params, "vector": str(vector), "limit": limit},
    )
    return [(row.id, float(row.distance)) for row in rows]


# A question in plain words first matches chunks with ALL its (stemmed, non-stop) words; when
# that finds fewer than `limit`, chunks with ANY of them fill the list, ranked by how many and how
# close. (Ranking every chunk that shares one frequent word is slow on large corpora, so the
# any-word pass runs only when needed.) With search syntax (quotes, OR, -word) the query means
# what it says.
ALL_WORDS_QUERY = "plainto_tsquery('english', :query)"
ANY_WORD_QUERY = (
    "to_tsquery('simple', array_to_string(tsvector_to_array(to_tsvector('english', :query)), ' | '))"
)
SYNTAX_QUERY = "websearch_to_tsquery('english', :query)"


def uses_search_syntax(query: str) -> bool:
    lowered = f" {query.lower()} "
    return '"' in query or " or " in lowered or " -" in lowered


def keyword_ranks(session: Session, *, query: str, filters: SearchFilters, limit: int) -> list[int]:
    """Chunk ids by full-text rank."""
    if uses_search_syntax(query):
        return _ranked(session, SYNTAX_QUERY, query=query, filters=filters, limit=limit)
    ids = _ranked(session, ALL_WORDS_QUERY, query=query, filters=filters, limit=limit)
    if len(ids) < limit:
        more = _ranked(session, ANY_WORD_QUERY, query=query, filters=filters, limit=limit, exclude=ids)
        ids += more[: limit - len(ids)]
    return ids


def _ranked(
    session: Session,
    tsquery: str,
    *,
    query: str,
    filters: SearchFilters,
    limit: int,
    exclude: list[int] = (),
) -> list[int]:
    where, params = filters.sql()
    if exclude:
        where += " AND NOT (c.id = ANY(:exclude))"
        params["exclude"] = list(exclude)
    rows = session.execute(
        text(
            f"""
            SELECT c.id FROM {LIVE_CHUNKS}, {tsquery} AS q
            WHERE c.tsv @@ q AND {where}
            ORDER BY ts_rank_cd(c.tsv, q) DESC, c.id
            LIMIT :limit
            """
        ),
        {**params, "query": query, "limit": limit},
    )
    return [row.id for row in rows]


def fuse(vector: list[tuple[int, float]], keyword: list[int], *, mode: Mode, k: int) -> list[Hit]:
    """Reciprocal rank fusion (hybrid), or one list alone; ranks are 1-based."""
    hits: dict[int, Hit] = {}
    if mode in ("hybrid", "vector"):
        for rank, (chunk_id, distance) in enumerate(vector, start=1):
            hit = hits.setdefault(chunk_id, Hit(chunk_id, 0.0))
            hit.vector_rank, hit.vector_distance = rank, distance
            hit.score += 1.0 / (RRF_K + rank) if mode == "hybrid" else 1.0 - distance
    if mode in ("hybrid", "keyword"):
        for rank, chunk_id in enumerate(keyword, start=1):
            hit = hits.setdefault(chunk_id, Hit(chunk_id, 0.0))
            hit.keyword_rank = rank
            hit.score += 1.0 / (RRF_K + rank)
    return sorted(hits.values(), key=lambda hit: (-hit.score, hit.chunk_id))[:k]


def chunk_details(session: Session, *, chunk_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    rows = session.execute(
        text(
            """
            SELECT c.id, c.text, c.position, c.heading_path, c.start_s, c.end_s, c.page,
                   d.id AS document_id, d.title, d.source_url, d.filename, d.resource_type, d.level, d.tags,
                   col.name AS collection, col.owner_id IS NULL AS shared
            FROM chunks c
            JOIN documents d ON d.id = c.document_id
            JOIN collections col ON col.id = d.collection_id
            WHERE c.id = ANY(:ids)
            """
        ),
        {"ids": list(chunk_ids)},
    )
    return {row.id: dict(row._mapping) for row in rows}
