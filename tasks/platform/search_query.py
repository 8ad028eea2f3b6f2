"""A search's query embedding, on a gpu worker (the API loads no model), handed back through Redis."""

from __future__ import annotations

import json

from core.platform_tasks import EMBED_QUERY
from core.redis_clients import get_broker_redis
from workers.celery_app import platform_task
from workers.embeddings import get_embedding_provider
from workers.llm.base import LLMError

REPLY_TTL_S = 60


@platform_task(EMBED_QUERY)
def embed_query(text: str, model: str, reply_key: str) -> None:
    """Embed a search query and push the vector to the waiting API request's reply list."""
    try:
        result = get_embedding_provider(model).embed([text], model=model)
        reply = {"model": result.model, "dim": result.dim, "vector": result.vectors[0]}
    except LLMError as error:
        reply = {"error": {"code": error.code, "message": str(error)}}
    redis = get_broker_redis()  # the API request waits on the broker Redis
    redis.rpush(reply_key, json.dumps(reply))
    redis.expire(reply_key, REPLY_TTL_S)
