"""The `embed` kind's body: normalized embeddings of a batch of texts."""

from __future__ import annotations

from tasks.embed.spec import SPEC, EmbedInput, EmbedOutput
from workers.embeddings import get_embedding_provider
from workers.runtime import JobContext, job_task


@job_task(SPEC)
def embed(ctx: JobContext, payload: EmbedInput) -> EmbedOutput:
    """Embed the texts with the requested model (default: the configured embedding model)."""
    ctx.progress("embedding", 0.0)
    result = get_embedding_provider(payload.model).embed(payload.texts, model=payload.model)
    return EmbedOutput(model=result.model, dim=result.dim, vectors=result.vectors)
