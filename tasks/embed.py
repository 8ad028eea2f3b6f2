"""The `embed` kind: normalized embeddings of a batch of texts."""

from __future__ import annotations

from db.kinds.embed import EmbedInput, EmbedOutput
from workers.embeddings import get_embedding_provider
from workers.errors import JobError
from workers.llm.base import LLMError, LLMUnavailable
from workers.runtime import JobContext, job_task


@job_task("embed")
def embed(ctx: JobContext, payload: EmbedInput) -> EmbedOutput:
    """Embed the texts with the requested model (default: the configured embedding model)."""
    ctx.progress("embedding", 0.0)
    try:
        result = get_embedding_provider(payload.model).embed(payload.texts, model=payload.model)
    except LLMUnavailable as error:
        raise JobError(error.code, str(error), retryable=True) from error
    except LLMError as error:
        raise JobError(error.code, str(error)) from error
    return EmbedOutput(model=result.model, dim=result.dim, vectors=result.vectors)
