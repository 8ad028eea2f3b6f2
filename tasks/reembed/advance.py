"""One pass of a re-embedding: move search to the configured embedding model without an outage, and
fill the chunks the active model lacks. Beat runs a pass every MENTORQ_REEMBED_EVERY_SECONDS
(tasks/platform/reembedding.py); an admin can run one at once (POST /v1/admin/embeddings/reembed, the
console's Embeddings page), for instance after fixing what made the last jobs fail.

A pass queues `reembed` jobs for chunks a model lacks, or, once the configured model covers every
searchable chunk, switches the active model in its transaction. One pass at a time (an advisory
lock), so beat's and an operator's never both queue jobs for the same chunks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from db import embeddings
from db import jobs as job_queries
from db.system import ensure_system_user
from tasks.reembed.spec import SPEC as REEMBED

PASS_LOCK = 0x7265656D6264  # any constant: one pass at a time across beat and the API
MAX_JOBS_PER_PASS = 8
FAILURE_BACKOFF_S = 300


def advance(session: Session, *, target: str, batch: int, despite_failures: bool = False) -> dict[str, Any]:
    """Queue the next `reembed` jobs towards `target` (at most MAX_JOBS_PER_PASS of `batch` chunks),
    or switch to it once it covers every searchable chunk. Nothing while `reembed` jobs are still
    queued or running, or, unless `despite_failures`, within FAILURE_BACKOFF_S of a failed one (a
    misspelt MENTORQ_EMBED_MODEL must not flood the embed lane with doomed jobs)."""
    if not session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": PASS_LOCK}).scalar():
        return {"target": target, "queued": 0, "busy": True}
    active = embeddings.get_active_model_sync(session, default=target)
    if job_queries.active_jobs_of_kind(session, kind=REEMBED.name):
        return {"active": active, "target": target, "queued": 0, "waiting": True}
    if not despite_failures and job_queries.recent_failures(
        session, kind=REEMBED.name, within_s=FAILURE_BACKOFF_S
    ):
        return {"active": active, "target": target, "queued": 0, "backing_off": True}
    total, coverage = embeddings.embedding_coverage_sync(session)
    if target != active and coverage.get(target, 0) >= total:
        embeddings.switch_active_model(session, model=target)
        return {"active": target, "switched_from": active, "queued": 0}
    missing: list[tuple[str, list[int]]] = []
    for model in dict.fromkeys([active, target]):
        ids = embeddings.live_chunks_missing(session, model=model, limit=batch * MAX_JOBS_PER_PASS)
        missing += [(model, ids[i : i + batch]) for i in range(0, len(ids), batch)]
    if not missing:
        return {"active": active, "target": target, "queued": 0}
    owner = ensure_system_user(session)
    queued = missing[:MAX_JOBS_PER_PASS]
    for model, ids in queued:
        job_queries.create_job(session, REEMBED, input={"model": model, "chunk_ids": ids}, owner_id=owner)
    return {"active": active, "target": target, "queued": len(queued)}
