"""Storing vectors for chunks that were deleted while they were computed (a document deleted or
re-ingested during a re-embed) skips those chunks instead of failing the job (a failed `reembed`
job pauses re-embedding for five minutes)."""

from __future__ import annotations

import uuid

import numpy as np
import psycopg

from db import embeddings
from db.unit_of_work import unit_of_work
from tests.search.test_keyword_search import library, on_the_stack  # noqa: F401  (fixture)
from tests.support.stack import Stack


def test_vectors_for_deleted_chunks_are_skipped(on_the_stack: Stack) -> None:  # noqa: F811
    _, (kept, gone) = library(on_the_stack, [f"kept {uuid.uuid4().hex}", f"gone {uuid.uuid4().hex}"])
    with psycopg.connect(on_the_stack.database_url.replace("+psycopg", ""), autocommit=True) as db:
        db.execute("DELETE FROM chunks WHERE id = %s", (gone,))
    model = f"test-model-{uuid.uuid4().hex[:8]}"
    with unit_of_work() as session:
        embeddings.store_embeddings(session, model=model, rows=[(kept, [0.1] * 8), (gone, [0.2] * 8)])
    stored = on_the_stack.sql("SELECT chunk_id FROM embeddings WHERE model = %s", model)
    assert stored == [(kept,)]


def test_vectors_arrive_as_the_float32s_sent_and_a_stored_one_is_kept(on_the_stack: Stack) -> None:  # noqa: F811
    """They travel in pgvector's binary form (db/embeddings.py): nothing lost to text formatting, and
    a second store of the same chunk (a duplicate delivery) keeps the first vector."""
    _, (chunk,) = library(on_the_stack, [f"exact {uuid.uuid4().hex}"])
    model = f"test-model-{uuid.uuid4().hex[:8]}"
    sent = [1 / 3, -2.5e-8, 123456.789, 0.0, float(np.float32(0.1))]
    with unit_of_work() as session:
        embeddings.store_embeddings(session, model=model, rows=[(chunk, sent)])
    with unit_of_work() as session:
        embeddings.store_embeddings(session, model=model, rows=[(chunk, np.ones(5, dtype=np.float32))])
    (stored,) = on_the_stack.sql("SELECT embedding::text FROM embeddings WHERE model = %s", model)[0]
    assert np.array_equal(np.array(stored.strip("[]").split(","), dtype=np.float32), np.float32(sent))
