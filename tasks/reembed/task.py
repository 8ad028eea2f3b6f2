"""The `reembed` kind's body: embed a batch of chunks under a model (chunks deleted meanwhile are skipped)."""

from __future__ import annotations

from db import embeddings
from db.unit_of_work import unit_of_work
from tasks.reembed.spec import SPEC, ReembedInput, ReembedOutput
from workers.embeddings import get_embedding_provider
from workers.embeddings.index import ensure_index_once
from workers.runtime import JobContext, job_task


@job_task(SPEC)
def reembed(ctx: JobContext, payload: ReembedInput) -> ReembedOutput:
    """Embed the batch under the model and store the vectors (kept if already there)."""
    with unit_of_work() as session:
        texts = embeddings.chunk_texts(session, chunk_ids=payload.chunk_ids)
    if not texts:
        return ReembedOutput(model=payload.model, embedded=0, skipped=len(payload.chunk_ids))
    ctx.progress("embedding", 0.0, f"{len(texts)} chunks")
    result = get_embedding_provider(payload.model).embed([text for _, text in texts], model=payload.model)
    ensure_index_once(model=result.model, dim=result.dim)
    with unit_of_work() as session:
        embeddings.store_embeddings(
            session,
            model=payload.model,
            rows=[(chunk_id, vector) for (chunk_id, _), vector in zip(texts, result.vectors, strict=True)],
        )
    return ReembedOutput(
        model=payload.model, embedded=len(texts), skipped=len(payload.chunk_ids) - len(texts)
    )
