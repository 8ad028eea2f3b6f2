"""Knowledge tasks: query embedding for search, the `reembed` kind, and the re-embedding scheduler."""

from __future__ import annotations

import json
import logging

from db import jobs as job_queries
from db import knowledge
from db.kinds import KINDS
from db.kinds.knowledge import ReembedInput, ReembedOutput
from db.session import session_scope
from db.system import ensure_system_user
from core.settings import get_settings
from workers.celery_app import app
from workers.embeddings import get_embedding_provider
from workers.errors import JobError
from workers.knowledge import ensure_index_once
from workers.llm.base import LLMError, LLMUnavailable
from core.redis_clients import get_redis
from workers.runtime import JobContext, job_task, send_committed_jobs

log = logging.getLogger(__name__)

REPLY_TTL_S = 60
MAX_JOBS_PER_TICK = 8
FAILURE_BACKOFF_S = 300


@app.task(name="mentorq.knowledge.embed_query", queue="gpu", soft_time_limit=30, time_limit=40, ignore_result=True)
def embed_query(text: str, model: str, reply_key: str) -> None:
    """Embed a search query and push the vector to the waiting API request's reply list."""
    try:
        result = get_embedding_provider(model).embed([text], model=model)
        reply = {"model": result.model, "dim": result.dim, "vector": result.vectors[0]}
    except LLMError as error:
        reply = {"error": {"code": error.code, "message": str(error)}}
    redis = get_redis()
    redis.rpush(reply_key, json.dumps(reply))
    redis.expire(reply_key, REPLY_TTL_S)


@job_task("reembed")
def reembed(ctx: JobContext, payload: ReembedInput) -> ReembedOutput:
    """Embed a batch of chunks under a model (chunks deleted meanwhile are skipped)."""
    with session_scope() as session:
        texts = knowledge.chunk_texts(session, chunk_ids=payload.chunk_ids)
    if not texts:
        return ReembedOutput(model=payload.model, embedded=0, skipped=len(payload.chunk_ids))
    ctx.progress("embedding", 0.0, f"{len(texts)} chunks")
    try:
        result = get_embedding_provider(payload.model).embed([text for _, text in texts], model=payload.model)
    except LLMUnavailable as error:
        raise JobError(error.code, str(error), retryable=True) from error
    except LLMError as error:
        raise JobError(error.code, str(error)) from error
    ensure_index_once(model=result.model, dim=result.dim)
    with session_scope() as session:
        knowledge.store_embeddings(
            session, model=payload.model, rows=[(chunk_id, vector) for (chunk_id, _), vector in zip(texts, result.vectors)]
        )
    return ReembedOutput(model=payload.model, embedded=len(texts), skipped=len(payload.chunk_ids) - len(texts))


@app.task(name="mentorq.maintenance.reembed", queue="maintenance", soft_time_limit=60, time_limit=90, ignore_result=True)
def schedule_reembedding() -> dict[str, object]:
    """Move search to the configured embedding model without an outage, and fill any gaps.

    While the configured model differs from the active one, queue `reembed` jobs for chunks it
    lacks; once it covers every searchable chunk, switch the active model in one transaction.
    The same pass embeds chunks the active model lacks (the nightly run relies on it)."""
    settings = get_settings()
    target = settings.embed_model
    with session_scope() as session:
        active = knowledge.get_active_model(session, default=target)
        if job_queries.active_jobs_of_kind(session, kind="reembed"):
            return {"active": active, "target": target, "queued": 0, "waiting": True}
        if job_queries.recent_failures(session, kind="reembed", within_s=FAILURE_BACKOFF_S):
            # e.g. a misspelt MENTORQ_EMBED_MODEL: don't hammer the gpu queue with doomed jobs.
            return {"active": active, "target": target, "queued": 0, "backing_off": True}
        total, coverage = knowledge.embedding_coverage(session)
        if target != active and coverage.get(target, 0) >= total:
            knowledge.switch_active_model(session, model=target)
            log.info("embedding model switched from %s to %s (%d chunks)", active, target, total)
            return {"active": target, "switched_from": active, "queued": 0}
        missing: list[tuple[str, list[int]]] = []
        for model in dict.fromkeys([active, target]):
            ids = knowledge.live_chunks_missing(
                session, model=model, limit=settings.reembed_batch_chunks * MAX_JOBS_PER_TICK
            )
            missing += [(model, ids[i : i + settings.reembed_batch_chunks]) for i in range(0, len(ids), settings.reembed_batch_chunks)]
        if not missing:
            return {"active": active, "target": target, "queued": 0}
        owner = ensure_system_user(session)
        kind = KINDS["reembed"]
        job_ids = [
            job_queries.insert_job_sync(
                session, kind=kind.name, owner_id=owner, input={"model": model, "chunk_ids": ids},
                max_attempts=kind.max_attempts, queue=kind.queue, priority=0,
            ).id
            for model, ids in missing[:MAX_JOBS_PER_TICK]
        ]
    send_committed_jobs(session, job_ids)
    return {"active": active, "target": target, "queued": len(job_ids)}
