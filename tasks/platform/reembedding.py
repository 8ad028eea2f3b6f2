"""Beat's re-embedding pass: move search to the configured embedding model without an outage, fill gaps."""

from __future__ import annotations

import logging

from core.platform_tasks import SCHEDULE_REEMBEDDING
from core.settings import get_settings
from db import embeddings
from db import jobs as job_queries
from db.system import ensure_system_user
from db.unit_of_work import unit_of_work
from tasks.reembed.spec import SPEC as REEMBED
from workers.celery_app import platform_task

log = logging.getLogger(__name__)

MAX_JOBS_PER_TICK = 8
FAILURE_BACKOFF_S = 300


@platform_task(SCHEDULE_REEMBEDDING)
def schedule_reembedding() -> dict[str, object]:
    """While the configured model differs from the active one, queue `reembed` jobs for chunks it
    lacks; once it covers every searchable chunk, switch the active model in one transaction.
    The same pass embeds chunks the active model lacks (the nightly run relies on it)."""
    settings = get_settings()
    target = settings.embed_model
    batch = settings.reembed_batch_chunks
    with unit_of_work() as session:
        active = embeddings.get_active_model_sync(session, default=target)
        if job_queries.active_jobs_of_kind(session, kind=REEMBED.name):
            return {"active": active, "target": target, "queued": 0, "waiting": True}
        if job_queries.recent_failures(session, kind=REEMBED.name, within_s=FAILURE_BACKOFF_S):
            # e.g. a misspelt MENTORQ_EMBED_MODEL: don't hammer the gpu queue with doomed jobs.
            return {"active": active, "target": target, "queued": 0, "backing_off": True}
        total, coverage = embeddings.embedding_coverage_sync(session)
        if target != active and coverage.get(target, 0) >= total:
            embeddings.switch_active_model(session, model=target)
            log.info("embedding model switched from %s to %s (%d chunks)", active, target, total)
            return {"active": target, "switched_from": active, "queued": 0}
        missing: list[tuple[str, list[int]]] = []
        for model in dict.fromkeys([active, target]):
            ids = embeddings.live_chunks_missing(session, model=model, limit=batch * MAX_JOBS_PER_TICK)
            missing += [(model, ids[i : i + batch]) for i in range(0, len(ids), batch)]
        if not missing:
            return {"active": active, "target": target, "queued": 0}
        owner = ensure_system_user(session)
        queued = missing[:MAX_JOBS_PER_TICK]
        for model, ids in queued:
            job_queries.create_job(session, REEMBED, input={"model": model, "chunk_ids": ids}, owner_id=owner)
    return {"active": active, "target": target, "queued": len(queued)}
