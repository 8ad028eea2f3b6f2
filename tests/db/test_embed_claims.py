"""What an embed call claims (db/embeddings.py claim_chunks_to_embed): the document's own chunks
first, then (on a GPU) other documents' pending chunks to fill the call; chunks another call holds are
skipped; and None only once every chunk of the generation has its vector. On the real PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from db import embeddings
from db.unit_of_work import unit_of_work
from tests.support.stack import Stack


@pytest.fixture
def pending(on_the_stack: Stack) -> Iterator[dict[str, tuple[uuid.UUID, list[int]]]]:
    """Documents of one user: `a` and `b` being ingested (their generation 1 not yet searchable),
    `ready` searchable (generation 1 active), each with chunks of growing length."""
    user_id, collection_id = uuid.uuid4(), uuid.uuid4()
    url = on_the_stack.database_url.replace("+psycopg", "")
    made: dict[str, tuple[uuid.UUID, list[int]]] = {}
    with psycopg.connect(url) as db:
        db.execute(
            "INSERT INTO users (id, email, hashed_password, is_active, is_superuser, is_verified) "
            "VALUES (%s, %s, 'x', true, false, true)",
            (user_id, f"claims-{user_id.hex[:12]}@example.com"),
        )
        db.execute(
            "INSERT INTO collections (id, name, owner_id) VALUES (%s, 'claims', %s)", (collection_id, user_id)
        )
        documents = (("a", "processing", 0, 3), ("b", "processing", 0, 4), ("ready", "ready", 1, 2))
        for name, status, active, count in documents:
            document_id = uuid.uuid4()
            db.execute(
                "INSERT INTO documents (id, collection_id, owner_id, source_key, title, filename, format, "
                "tags, status, chunk_count, active_generation, metadata) "
                "VALUES (%s, %s, %s, %s, %s, %s, 'markdown', '[]', %s, 0, %s, '{}')",
                (
                    document_id,
                    collection_id,
                    user_id,
                    f"test:{document_id}",
                    name,
                    f"{name}.md",
                    status,
                    active,
                ),
            )
            ids = [
                db.execute(
                    "INSERT INTO chunks (document_id, generation, position, text, heading_path, token_count) "
                    "VALUES (%s, 1, %s, %s, '[]', 1) RETURNING id",
                    (document_id, position, f"{name} " + "word " * (count - position)),
                ).fetchone()[0]
                for position in range(count)
            ]
            made[name] = (document_id, ids)
    yield made
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DELETE FROM users WHERE id = %s", (user_id,))


def _model() -> str:
    """A model no other test stores vectors under: every chunk lacks one."""
    return f"test-claims-{uuid.uuid4().hex[:8]}"


def _claim(session, document_id: uuid.UUID, model: str, limit: int = 500, gather: bool = True):
    return embeddings.claim_chunks_to_embed(
        session, document_id=document_id, generation=1, model=model, limit=limit, gather=gather
    )


def test_a_call_takes_its_own_chunks_shortest_first_then_fills_up_with_pending_ones(pending) -> None:
    model = _model()
    a, a_ids = pending["a"]
    _, b_ids = pending["b"]
    _, ready_ids = pending["ready"]
    with unit_of_work() as session:
        claim = _claim(session, a, model)
    ids = [chunk_id for chunk_id, _ in claim.chunks]
    assert claim.own == 3 and ids[:3] == list(reversed(a_ids))  # the last chunk is the shortest
    assert set(b_ids) <= set(ids[3:])  # other pending documents' chunks fill the call
    assert not set(ready_ids) & set(ids)  # a searchable generation is never re-embedded here
    with unit_of_work() as session:
        small = _claim(session, a, model, limit=2)
    assert small.own == 2 and len(small.chunks) == 2
    with unit_of_work() as session:  # a CPU's call: the document's own chunks only
        alone = _claim(session, a, model, gather=False)
    assert alone.own == 3 and [chunk_id for chunk_id, _ in alone.chunks] == list(reversed(a_ids))


def test_held_chunks_are_skipped_and_none_comes_only_when_every_vector_is_stored(
    pending, on_the_stack: Stack
) -> None:
    model = _model()
    a, a_ids = pending["a"]
    b, b_ids = pending["b"]
    holding, released = threading.Event(), threading.Event()
    answers: list[object] = []

    def first_call() -> None:  # holds a's chunks and b's until it has stored their vectors
        with unit_of_work() as session:
            claim = _claim(session, a, model)
            holding.set()
            released.wait(30)
            embeddings.store_embeddings(
                session, model=model, rows=[(cid, [0.5] * 4) for cid, _ in claim.chunks]
            )

    first = threading.Thread(target=first_call)
    first.start()
    assert holding.wait(30)

    def second_call() -> None:  # b's job: everything it would take is held
        with unit_of_work() as session:
            answers.append(_claim(session, b, model))

    second = threading.Thread(target=second_call)
    second.start()
    second.join(1.0)
    assert second.is_alive() and not answers  # it waits for the holder rather than report b done
    released.set()
    first.join(30)
    second.join(30)
    assert len(answers) == 1 and answers[0].chunks == [] and answers[0].own == 0  # ask again
    with unit_of_work() as session:
        assert _claim(session, b, model) is None
    stored = {row[0] for row in on_the_stack.sql("SELECT chunk_id FROM embeddings WHERE model = %s", model)}
    assert set(a_ids) | set(b_ids) <= stored
