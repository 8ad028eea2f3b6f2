"""Chunk search: HNSW vector search, full-text search, and their reciprocal rank fusion.

Vector search uses the partial HNSW index of the active model, so the model name and dimension
are written into the SQL (the planner must see `model = '<literal>'` and the same cast as the
index). Filtered searches still fill k results thanks to pgvector's iterative index scans.
"""

from __future__ import annotations

import json
import math
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
    speakers: Sequence[str] = ()  # a chunk must have one of them speaking in it (a transcript's)

    def sql(self, *, documents_only: bool = False) -> tuple[str, dict[str, Any]]:
        """The WHERE clause over `d` (documents) and `c` (chunks), or over `d` alone."""
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
        if self.speakers and not documents_only:
            clauses.append("c.speakers && CAST(:speakers AS text[])")
            params["speakers"] = list(self.speakers)
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


# Keyword search. A question in plain words matches chunks with ALL its (stemmed, non-stop) words
# first, ranked by ts_rank_cd (how close the words stand); when that finds fewer than `limit`,
# chunks with SOME of them fill the list, ranked by how much of the question they hold (the sum of
# the inverse document frequencies of the words they contain, so a rare word outweighs a common
# one), then by ts_rank (how often). With search syntax (quotes, OR, -word) the query means what
# it says, ranked by ts_rank_cd.
#
# The work is bounded on large libraries (issue 12: ranking every chunk that shares a common word
# took 150 ms at 100k chunks). Candidates come through the GIN index, at most `candidates` per
# word and for the all-words pass, and the fill pass looks at the question's rare words first:
# every word the statistics do not list, then listed ones, rarest first, while their estimated
# matches fit in `candidates`. A chunk holding none of those words scores at most the common words'
# weights together, so the common words' chunks are fetched (`limit` of them, all common words
# together first) only when too few candidates are sure to score above that: the "max score"
# argument of search engines. `candidates=None` ranks every match (the benchmark's reference).
#
# How common a word is comes from the planner's statistics of chunks.tsv (pg_stats, refreshed by
# ANALYZE / autovacuum), which list the most common lexemes with the share of rows holding each. A
# word not listed there (every word, before the first ANALYZE) is rarer than the listed ones; its
# frequency is counted among the candidates: its matches over the chunks of the searched documents.
KEYWORD_CANDIDATES = 2000  # chunks ranked at most per word (and for the all-words pass)
SYNTAX_QUERY = "websearch_to_tsquery('english', :query)"


def uses_search_syntax(query: str) -> bool:
    lowered = f" {query.lower()} "
    return '"' in query or " or " in lowered or " -" in lowered


@dataclass(frozen=True)
class QueryWord:
    lexeme: str
    listed_frequency: float | None  # the share of chunks holding it, if the statistics list it
    estimated_matches: float
    least_weight: float  # its weight is at least this (an unlisted word is rarer than the listed)

    @property
    def tsquery(self) -> str:
        """The lexeme as tsquery text, quoted so that no character in it reads as an operator."""
        return "'" + self.lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


WORD_STATISTICS = """
WITH stats AS MATERIALIZED (
    SELECT s.most_common_elems::text::text[] AS lexemes, s.most_common_elem_freqs AS frequencies
    FROM pg_stats s
    WHERE s.schemaname = current_schema() AND s.tablename = 'chunks' AND s.attname = 'tsv'
    LIMIT 1
)
SELECT w.lexeme,
       st.frequencies[array_position(st.lexemes, w.lexeme)] AS frequency,
       st.frequencies[cardinality(st.lexemes) + 1] AS least_listed,
       (SELECT reltuples FROM pg_class WHERE oid = 'chunks'::regclass) AS chunks
FROM unnest(tsvector_to_array(to_tsvector('english', :query))) AS w(lexeme)
LEFT JOIN stats st ON true
"""
UNLISTED_FREQUENCY = 0.005  # PostgreSQL's own guess for a lexeme, without statistics


def idf(frequency: float) -> float:
    """Inverse document frequency: a rarer word says more about what the question asks."""
    return math.log(1 + 1 / frequency)


def query_words(session: Session, *, query: str) -> list[QueryWord]:
    """The question's lexemes, rarest first (unlisted ones first), with their frequency among chunks
    where the planner's statistics list it; the matches of an unlisted one are estimated as
    PostgreSQL does (half the least listed frequency), for the budget only."""
    words = []
    for row in session.execute(text(WORD_STATISTICS), {"query": query}):
        listed = None if row.frequency is None else float(row.frequency)
        guess = listed or (float(row.least_listed) / 2 if row.least_listed else UNLISTED_FREQUENCY)
        chunks = max(float(row.chunks or 0), 0.0)  # -1 before the first VACUUM or ANALYZE
        least = listed or (float(row.least_listed) if row.least_listed else None)
        words.append(QueryWord(row.lexeme, listed, guess * chunks, idf(least) if least else 0.0))
    return sorted(words, key=lambda word: (word.listed_frequency or 0.0, word.lexeme))


def keyword_ranks(
    session: Session,
    *,
    query: str,
    filters: SearchFilters,
    limit: int,
    candidates: int | None = KEYWORD_CANDIDATES,
) -> list[int]:
    """Chunk ids by full-text rank, best first (`candidates=None`: rank every match)."""
    where, params = filters.sql()
    # The searched documents' size, for how rare a word is: the documents' filters alone.
    documents_where, _ = filters.sql(documents_only=True)
    params.update(query=query, limit=limit, candidates=candidates)
    if uses_search_syntax(query):
        rows = session.execute(
            text(
                f"""
                WITH matches AS MATERIALIZED (
                    SELECT c.id, c.tsv FROM {LIVE_CHUNKS}
                    WHERE c.tsv @@ {SYNTAX_QUERY} AND {where}
                    LIMIT :candidates
                )
                SELECT m.id FROM matches m, {SYNTAX_QUERY} AS q
                ORDER BY ts_rank_cd(m.tsv, q) DESC, m.id
                LIMIT :limit
                """
            ),
            params,
        )
        return [row.id for row in rows]
    words = query_words(session, query=query)
    if not words:
        return []
    # The rare words: every unlisted one, then listed ones, rarest first, while they fit.
    rare, estimated = [], 0.0
    for word in words:
        fits = candidates is None or estimated + word.estimated_matches <= candidates
        if rare and word.listed_frequency is not None and not fits:
            break
        rare.append(word)
        estimated += word.estimated_matches
    params["all_words"] = " & ".join(word.tsquery for word in words)
    params["any_word"] = " | ".join(word.tsquery for word in words)
    params["any_rare_word"] = " | ".join(word.tsquery for word in rare)
    params["rare_words"] = [word.tsquery for word in rare]
    common = [word.tsquery for word in words[len(rare) :]]
    # The common words together first (the best of the chunks without a rare word), then each.
    params["common_words"] = [" & ".join(common), *common] if len(common) > 1 else common
    # A chunk without a rare word scores at most the common words' weights together: the rare
    # words' candidates that are sure to score more must fill the list, or the common words' are
    # needed too.
    params["common_best"] = sum(word.least_weight for word in words[len(rare) :])
    holds, least, counts, coverage = [], [], [], []
    for i, word in enumerate(words):
        params[f"word_{i}"], params[f"least_{i}"] = word.tsquery, word.least_weight
        holds.append(f"c.tsv @@ CAST(:word_{i} AS tsquery) AS holds_{i}")
        least.append(f"CASE WHEN m.holds_{i} THEN :least_{i} ELSE 0 END")
        if word.listed_frequency is None:
            counts.append(f"count(*) FILTER (WHERE s.holds_{i}) AS holds_{i}")
            matches = f"(n.everywhere + n.holds_{i})"
            weight = f"ln(1 + greatest(n.chunks, {matches}) / greatest({matches}, 1)::float8)"
        else:
            params[f"weight_{i}"] = idf(word.listed_frequency)
            weight = f":weight_{i}"
        coverage.append(f"CASE WHEN s.holds_{i} THEN {weight} ELSE 0 END")
    scored = f"c.id, {', '.join(holds)}, ts_rank(c.tsv, CAST(:any_word AS tsquery)) AS rank"
    rows = session.execute(
        text(
            f"""
            WITH all_words AS MATERIALIZED (
                SELECT c.id, ts_rank_cd(c.tsv, CAST(:all_words AS tsquery)) AS rank
                FROM {LIVE_CHUNKS}
                WHERE c.tsv @@ CAST(:all_words AS tsquery) AND {where}
                LIMIT :candidates
            ),
            rare_words AS MATERIALIZED (
                SELECT DISTINCT ON (m.id) m.*, {" + ".join(least)} > :common_best AS above_common
                FROM unnest(CAST(:rare_words AS tsquery[])) AS w(word)
                CROSS JOIN LATERAL (
                    SELECT {scored} FROM {LIVE_CHUNKS}
                    WHERE c.tsv @@ w.word AND NOT c.tsv @@ CAST(:all_words AS tsquery) AND {where}
                      AND (SELECT count(*) FROM all_words) < :limit
                    LIMIT :candidates
                ) AS m
            ),
            common_words AS MATERIALIZED (
                SELECT DISTINCT ON (m.id) m.*, false
                FROM unnest(CAST(:common_words AS tsquery[])) AS w(word)
                CROSS JOIN LATERAL (
                    SELECT {scored} FROM {LIVE_CHUNKS}
                    WHERE c.tsv @@ w.word AND NOT c.tsv @@ CAST(:any_rare_word AS tsquery) AND {where}
                      AND (SELECT count(*) FROM all_words)
                        + (SELECT count(*) FROM rare_words WHERE above_common) < :limit
                    LIMIT :limit
                ) AS m
            ),
            some_words AS (
                SELECT * FROM rare_words UNION ALL SELECT * FROM common_words
            ),
            counts AS (
                SELECT (SELECT sum(d.chunk_count) FROM documents d WHERE {documents_where}) AS chunks,
                       (SELECT count(*) FROM all_words) AS everywhere,
                       {", ".join(["count(*) AS pool", *counts])}
                FROM some_words s
            )
            SELECT id FROM (
                SELECT id, 1 AS tier, 0.0 AS coverage, rank FROM all_words
                UNION ALL
                SELECT s.id, 2, {" + ".join(coverage)}, s.rank FROM some_words s, counts n
            ) AS ranked
            ORDER BY tier, coverage DESC, rank DESC, id
            LIMIT :limit
            """
        ),
        params,
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
            SELECT c.id, c.text, c.position, c.heading_path, c.start_s, c.end_s, c.page, c.speakers,
                   d.id AS document_id, d.title, d.source_url, d.filename, d.resource_type, d.level, d.tags,
                   col.name AS collection, col.owner_id IS NULL AND col.course_id IS NULL AS shared
            FROM chunks c
            JOIN documents d ON d.id = c.document_id
            JOIN collections col ON col.id = d.collection_id
            WHERE c.id = ANY(:ids)
            """
        ),
        {"ids": list(chunk_ids)},
    )
    return {row.id: dict(row._mapping) for row in rows}
