"""The ask feature's queries. The answer cache's storage: entries keyed by everything that decided
an answer (core.ask.questions), found exactly by the API or semantically by the ask job, counted,
listed and purged. Entries become unreachable on their own when a searched collection's content
version moves (it is in the key), and a trigger on documents deletes them outright (migration
2026_11_23_assistant). And stored citations looked up again (`resolve`, which conversations use
too): is the cited chunk still what the search returns, did its document's re-ingestion move the
quoted text to a new chunk, or is it gone."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.ask import questions
from db.models import AnswerCacheEntry, Collection, CollectionContentVersion, Document

# A succeeded ask job, and one the cache answered (its output says so). The two together are the
# predicate of the partial index ix_jobs_ask_cache_hits (migration 2026_11_23_assistant), written
# the same way so the planner counts hits in the index and never reads an output, which may be large.
# The kind's name is written out here, the one place outside tasks/ask/spec.py: the predicate must
# read as the migration's index predicate does (tests/stats/test_admin_stats.py checks the plan).
ASKED_JOB = "kind = 'ask' AND status = 'succeeded'"
ANSWERED_FROM_CACHE = "output->>'cached' = 'true'"


@dataclass(frozen=True)
class SearchScope:
    """The collections a question searches, each with its content version, and whose they are."""

    collection_versions: dict[uuid.UUID, int]
    owner_id: uuid.UUID | None  # the asker when a private collection is among them, else None


def _scope_query(collection_ids: list[uuid.UUID]):
    # Collections with no searchable document are left out: they cannot change an answer, and an
    # empty private collection would otherwise make every answer private to its owner.
    return (
        select(Collection.id, Collection.owner_id, func.coalesce(CollectionContentVersion.version, 0))
        .outerjoin(CollectionContentVersion, CollectionContentVersion.collection_id == Collection.id)
        .where(
            Collection.id.in_(collection_ids),
            select(Document.id)
            .where(Document.collection_id == Collection.id, Document.active_generation > 0)
            .exists(),
        )
    )


def _scope(rows: Any, user_id: uuid.UUID) -> SearchScope:
    versions: dict[uuid.UUID, int] = {}
    private = False
    for collection_id, owner_id, version in rows:
        versions[collection_id] = int(version)
        private = private or owner_id is not None
    return SearchScope(versions, user_id if private else None)


def search_scope(session: Session, *, collection_ids: list[uuid.UUID], user_id: uuid.UUID) -> SearchScope:
    if not collection_ids:
        return SearchScope({}, None)
    return _scope(session.execute(_scope_query(collection_ids)).all(), user_id)


@dataclass(frozen=True)
class CacheKeys:
    """Where an answer is filed: `context` (everything but the question) and `lookup` (with it)."""

    context: str
    lookup: str
    scope: SearchScope  # the collections searched, which the job searches and stores the entry under


def cache_keys(
    session: Session,
    *,
    question: str,
    collection_ids: list[uuid.UUID],
    user_id: uuid.UUID,
    instructions_version: int | None,
    model: str,
    embed_model: str,
    speakers: Sequence[str] = (),
) -> CacheKeys:
    """The one builder of an answer's keys: the API's exact lookup and the ask job's lookup and store
    both come here, so the two can never drift. The collections' versions are read now: an entry
    stored under them can only be older than the content, never newer, and a newer version makes it
    unreachable. The caller passes the identities it answers with (instructions, both models)."""
    scope = search_scope(session, collection_ids=collection_ids, user_id=user_id)
    context = questions.context_key(
        collection_versions=scope.collection_versions,
        owner_id=scope.owner_id,
        instructions_version=instructions_version,
        model=model,
        embed_model=embed_model,
        speakers=speakers,
    )
    return CacheKeys(context=context, lookup=questions.lookup_key(context, question), scope=scope)


def _hit(condition):
    """Count a hit on the live entry matching `condition`, and return it."""
    return (
        update(AnswerCacheEntry)
        .where(condition, AnswerCacheEntry.expires_at > func.now())
        .values(hits=AnswerCacheEntry.hits + 1, last_hit_at=func.now())
        .returning(AnswerCacheEntry)
    )


async def exact_hit(session: AsyncSession, *, lookup_key: str) -> AnswerCacheEntry | None:
    """The entry under this key, counted as a hit."""
    return (await session.execute(_hit(AnswerCacheEntry.lookup_key == lookup_key))).scalar_one_or_none()


def exact_hit_sync(session: Session, *, lookup_key: str) -> AnswerCacheEntry | None:
    return session.execute(_hit(AnswerCacheEntry.lookup_key == lookup_key)).scalar_one_or_none()


@dataclass(frozen=True)
class Neighbour:
    entry_id: int
    question: str
    content_words: list[str]
    similarity: float


def nearest(session: Session, *, context_key: str, vector: list[float], limit: int = 3) -> list[Neighbour]:
    """The closest cached questions asked in the same context (same collections and versions,
    owner, instructions and models): a handful of rows, so no vector index is needed."""
    rows = session.execute(
        text(
            """
            SELECT id, question, content_words, 1 - (embedding <=> CAST(:vector AS vector)) AS similarity
            FROM answer_cache
            WHERE context_key = :context AND expires_at > now() AND embedding IS NOT NULL
              AND vector_dims(embedding) = :dim
            ORDER BY embedding <=> CAST(:vector AS vector)
            LIMIT :limit
            """
        ),
        {"vector": str(list(vector)), "context": context_key, "dim": len(vector), "limit": limit},
    )
    return [Neighbour(row.id, row.question, list(row.content_words), float(row.similarity)) for row in rows]


def take_hit(session: Session, *, entry_id: int) -> AnswerCacheEntry | None:
    return session.execute(_hit(AnswerCacheEntry.id == entry_id)).scalar_one_or_none()


def store(
    session: Session,
    *,
    lookup_key: str,
    context_key: str,
    scope: SearchScope,
    question: str,
    content_words: list[str],
    vector: list[float] | None,
    instructions_version: int | None,
    model: str,
    output: dict[str, Any],
    job_id: uuid.UUID,
    ttl: timedelta,
) -> None:
    """Keep an answer; a concurrent identical question that stored first keeps its entry."""
    session.execute(
        insert(AnswerCacheEntry)
        .values(
            lookup_key=lookup_key,
            context_key=context_key,
            owner_id=scope.owner_id,
            question=question,
            content_words=content_words,
            embedding=vector,
            collection_ids=sorted(scope.collection_versions),
            instructions_version=instructions_version,
            model=model,
            output=output,
            job_id=job_id,
            expires_at=func.now() + ttl,
        )
        .on_conflict_do_nothing(index_elements=["lookup_key"])
    )


def delete_expired(session: Session, *, limit: int = 1000) -> int:
    doomed = select(AnswerCacheEntry.id).where(AnswerCacheEntry.expires_at <= func.now()).limit(limit)
    return session.execute(delete(AnswerCacheEntry).where(AnswerCacheEntry.id.in_(doomed))).rowcount or 0


# --- admin ------------------------------------------------------------------------------------


async def entries(session: AsyncSession, *, limit: int, before_id: int | None) -> list[AnswerCacheEntry]:
    query = select(AnswerCacheEntry).order_by(AnswerCacheEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AnswerCacheEntry.id < before_id)
    return list((await session.execute(query)).scalars())


async def totals(session: AsyncSession, *, since: datetime) -> dict[str, int]:
    """Entries now, and the ask jobs since `since` that were answered from the cache or not."""
    row = (
        await session.execute(
            text(
                f"""
                SELECT (SELECT count(*) FROM answer_cache WHERE expires_at > now()) AS entries,
                       (SELECT count(*) FROM jobs WHERE created_at >= :since AND {ASKED_JOB}
                          AND {ANSWERED_FROM_CACHE}) AS hits,
                       (SELECT count(*) FROM jobs WHERE created_at >= :since AND {ASKED_JOB}) AS answered
                """
            ),
            {"since": since},
        )
    ).one()
    return {"entries": row.entries, "hits": row.hits, "misses": max(row.answered - row.hits, 0)}


async def purge(session: AsyncSession, *, owner_id: uuid.UUID | None = None, everything: bool) -> int:
    query = delete(AnswerCacheEntry)
    if not everything:
        query = query.where(AnswerCacheEntry.owner_id == owner_id)
    return (await session.execute(query)).rowcount or 0


# --- citations -------------------------------------------------------------------------------


async def resolve(session: AsyncSession, citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each citation as {status: current|moved|removed, original_chunk_id?, citation}."""
    if not citations:
        return []
    ids = [int(c["chunk_id"]) for c in citations]
    # Who speaks in each live chunk, as named now: a speaker renamed since the answer shows renamed.
    rows = await session.execute(
        text(
            """
            SELECT c.id, c.speakers FROM chunks c JOIN documents d ON d.id = c.document_id
            WHERE c.id = ANY(:ids) AND c.generation = d.active_generation
            """
        ),
        {"ids": ids},
    )
    current = {row.id: row.speakers for row in rows}
    resolved = []
    for citation in citations:
        speakers = current.get(int(citation["chunk_id"]))
        if speakers is not None:
            named = citation | {"speakers": speakers} if speakers or "speakers" in citation else citation
            resolved.append({"status": "current", "citation": named})
            continue
        moved_to = await _chunk_holding_quote(session, citation)
        if moved_to is None:
            resolved.append({"status": "removed", "citation": citation})
        else:
            resolved.append(
                {
                    "status": "moved",
                    "original_chunk_id": citation["chunk_id"],
                    "citation": citation | {"chunk_id": moved_to},
                }
            )
    return resolved


async def _chunk_holding_quote(session: AsyncSession, citation: dict[str, Any]) -> int | None:
    quote = str(citation.get("quote") or "").rstrip("…").strip()
    if len(quote) < 10:
        return None
    return (
        await session.execute(
            text(
                """
                SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id
                WHERE d.id = CAST(:document AS uuid) AND c.generation = d.active_generation
                  AND strpos(c.text, :quote) > 0
                ORDER BY c.position LIMIT 1
                """
            ),
            {"document": str(citation["document_id"]), "quote": quote},
        )
    ).scalar_one_or_none()
