"""Grounded answers: an `ask` job for the caller's question, or, when the answer cache holds an
exact match for everything that decides the answer, a job that is already answered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from api.ask.schemas import AnswerRead, AskRequest, CacheEntryRead, CachePurged, CacheRead, ResolvedCitation
from api.documents.service import readable_collection_ids
from api.errors import ProblemError
from api.jobs.service import check_webhook_url, get_job_for
from api.quotas import check_job_quota
from api.shared import open_session_for, require_admin
from core.metrics import catalog
from core.settings import get_settings
from db import ask as ask_queries
from db import documents as document_queries
from db import embeddings, instructions, llm_routes
from db.jobs import create_answered_job, create_job
from db.models import Job, User
from db.profiles import PROFILE_COLLECTION
from db.unit_of_work import commit_async
from tasks.ask.spec import MAX_QUESTION_CHARS
from tasks.ask.spec import SPEC as ASK

# What the admin check says only admins may do here (403 admin_only).
ADMINS_ONLY = "manage the answer cache"


def checked_question(text: str, *, field: str = "question") -> str:
    """The question trimmed; empty is 422 `question_empty`, over the limit 413 `question_too_large`."""
    question = text.strip()
    if not question:
        raise ProblemError(
            422, "question_empty", f"the {field} is empty", errors=[{"path": field, "message": "empty"}]
        )
    if len(question) > MAX_QUESTION_CHARS:
        raise ProblemError(
            413,
            "question_too_large",
            f"the {field} is over {MAX_QUESTION_CHARS} characters ({len(question)})",
        )
    return question


async def ask_collections(session: AsyncSession, *, user: User, names: list[str] | None) -> list[uuid.UUID]:
    """The named collections, or by default every one the user can read except their profile's
    (which describes the learner, not the subject, and would make every answer private)."""
    if names is not None:
        return await readable_collection_ids(session, user=user, names=names)
    visible = await document_queries.visible_collections(session, user_id=user.id)
    return [c.id for c in visible if not (c.owner_id == user.id and c.name == PROFILE_COLLECTION)]


async def ask(session: AsyncSession, *, user: User, request: AskRequest) -> Job:
    question = checked_question(request.question)
    if request.webhook is not None:
        check_webhook_url(str(request.webhook))
    session_id = await open_session_for(session, user=user, session_id=request.session_id)
    collection_ids = await ask_collections(session, user=user, names=request.collections)
    payload = {
        "user_id": str(user.id),
        "question": question,
        "collection_ids": [str(c) for c in collection_ids],
        "k": request.k,
        "speakers": request.speakers,
    }
    webhook = {
        "webhook_url": str(request.webhook) if request.webhook else None,
        "webhook_events": request.webhook_events_filter or (["completed"] if request.webhook else None),
    }
    hit = await _exact_hit(
        session, user=user, question=question, collection_ids=collection_ids, speakers=request.speakers
    )
    if hit is not None:
        job = create_answered_job(
            session, ASK, input=payload, output=hit, owner_id=user.id, session_id=session_id, **webhook
        )
    else:
        await check_job_quota(session, user=user)
        job = create_job(session, ASK, input=payload, owner_id=user.id, session_id=session_id, **webhook)
    await commit_async(session)
    return job


async def _exact_hit(
    session: AsyncSession, *, user: User, question: str, collection_ids: list[uuid.UUID], speakers: list[str]
) -> dict | None:
    settings = get_settings()
    instructions_version = await instructions.active_version(session, kind=ASK.name)
    # The kind's route when it has one: answers are never served across a route change.
    model = llm_routes.answer_identity(await llm_routes.route_of(session, kind=ASK.name), settings)
    embed_model = await embeddings.get_active_model(session, default=settings.embed_model)
    keys = await session.run_sync(
        lambda sync: ask_queries.cache_keys(
            sync,
            question=question,
            collection_ids=collection_ids,
            user_id=user.id,
            instructions_version=instructions_version,
            model=model,
            embed_model=embed_model,
            speakers=speakers,
        )
    )
    entry = await ask_queries.exact_hit(session, lookup_key=keys.lookup)
    catalog.ANSWER_CACHE.labels("api", "miss" if entry is None else "hit").inc()
    if entry is None:
        return None
    return entry.output | {"cached": True, "cached_from_job_id": str(entry.job_id), "cache_match": "exact"}


async def answer(session: AsyncSession, *, user: User, job_id: str) -> AnswerRead:
    """An ask job's answer with each citation looked up again now."""
    job = await get_job_for(session, user=user, job_id=job_id)
    if job.kind != ASK.name:
        raise ProblemError(404, "job_not_found", "no such answer")
    output = job.output or {}
    resolved = await ask_queries.resolve(session, output.get("citations", []))
    return AnswerRead(
        job_id=job.id,
        status=job.status,
        question=job.input.get("question", ""),
        answer=output.get("answer"),
        grounded=output.get("grounded"),
        cached=output.get("cached"),
        citations=[ResolvedCitation.model_validate(item) for item in resolved],
    )


async def cache_report(
    session: AsyncSession, *, user: User, limit: int, before_id: int | None, window_hours: int
) -> CacheRead:
    """Entries (newest first, by cursor) and the hit ratio of ask jobs over the window."""
    require_admin(user, to=ADMINS_ONLY)
    since = datetime.now(UTC) - timedelta(hours=window_hours)
    totals = await ask_queries.totals(session, since=since)
    rows = await ask_queries.entries(session, limit=limit, before_id=before_id)
    asked = totals["hits"] + totals["misses"]
    return CacheRead(
        entries=totals["entries"],
        window_hours=window_hours,
        hits=totals["hits"],
        misses=totals["misses"],
        hit_ratio=round(totals["hits"] / asked, 4) if asked else None,
        items=[
            CacheEntryRead(
                id=row.id,
                question=row.question,
                private=row.owner_id is not None,
                collections=len(row.collection_ids),
                instructions_version=row.instructions_version,
                model=row.model,
                job_id=row.job_id,
                hits=row.hits,
                created_at=row.created_at,
                expires_at=row.expires_at,
            )
            for row in rows
        ],
        next_cursor=rows[-1].id if len(rows) == limit else None,
    )


async def purge_cache(session: AsyncSession, *, user: User, owner_id: uuid.UUID | None) -> CachePurged:
    """Every entry, or one user's private entries."""
    require_admin(user, to=ADMINS_ONLY)
    purged = await ask_queries.purge(session, owner_id=owner_id, everything=owner_id is None)
    await commit_async(session)
    return CachePurged(purged=purged)
