"""Keyword search on the real database: a rare word outranks a word thousands of chunks share,
chunks with all the words come first, and bounding the candidates keeps the ranking of every match
(issue 12). Chunks are written with SQL, so no embedding model is involved."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text

from core.settings import get_settings
from db import search
from db.session import sync_session_factory
from tests.support.stack import Stack

LETTERS, VOWELS = "bdfgklmnprstvz", "aeiou"
# Users whose libraries a test wrote; deleted afterwards (their collections, documents and chunks
# go with them), so thousands of chunks do not linger in the session's database for later tests
# (re-embedding would have to embed them all).
_written: list[uuid.UUID] = []


@pytest.fixture
def on_the_stack(on_the_stack: Stack) -> Iterator[Stack]:
    """The shared fixture (tests/conftest.py), and afterwards the libraries these tests wrote go."""
    yield on_the_stack
    with psycopg.connect(on_the_stack.database_url.replace("+psycopg", ""), autocommit=True) as db:
        db.execute("DELETE FROM users WHERE id = ANY(%s)", (list(_written),))
    _written.clear()


def made_up_words(count: int) -> list[str]:
    """Words no other test writes (their lexemes are themselves: no English stem ends in a vowel pair)."""
    rng = random.Random(uuid.uuid4().int)
    return ["".join(rng.choice(LETTERS) + rng.choice(VOWELS) for _ in range(5)) + "o" for _ in range(count)]


def library(stack: Stack, texts: list[str]) -> tuple[uuid.UUID, list[int]]:
    """A collection holding one document with `texts` as its chunks (ids in the order given)."""
    user_id, collection_id, document_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    _written.append(user_id)
    # One transaction, the chunks with a vector under the active model: beat's re-embedding pass
    # never sees them missing one (it would queue jobs for thousands of chunks this test deletes).
    with psycopg.connect(stack.database_url.replace("+psycopg", "")) as db:
        db.execute(
            "INSERT INTO users (id, email, hashed_password, is_active, is_superuser, is_verified) "
            "VALUES (%s, %s, 'x', true, false, true)",
            (user_id, f"keyword-{user_id.hex[:12]}@example.com"),
        )
        db.execute(
            "INSERT INTO collections (id, name, owner_id) VALUES (%s, 'words', %s)", (collection_id, user_id)
        )
        db.execute(
            "INSERT INTO documents (id, collection_id, owner_id, source_key, title, filename, format, tags, "
            "status, chunk_count, active_generation, metadata) "
            "VALUES (%s, %s, %s, %s, 'Words', 'words.md', 'markdown', '[]', 'ready', %s, 1, '{}')",
            (document_id, collection_id, user_id, f"test:{document_id}", len(texts)),
        )
        with db.cursor().copy(
            "COPY chunks (document_id, generation, position, text, heading_path, token_count) FROM STDIN"
        ) as copy:
            for position, chunk in enumerate(texts):
                copy.write_row((document_id, 1, position, chunk, "[]", len(chunk.split())))
        db.execute(
            "INSERT INTO embeddings (chunk_id, model, embedding) "
            "SELECT id, COALESCE((SELECT value FROM knowledge_state WHERE key = 'active_embed_model'), %s), "
            "array_fill(0.05::real, ARRAY[384])::vector FROM chunks WHERE document_id = %s",
            (get_settings().embed_model, document_id),
        )
        ids = [
            row[0]
            for row in db.execute(
                "SELECT id FROM chunks WHERE document_id = %s ORDER BY position", (document_id,)
            )
        ]
    return collection_id, ids


def ranks(collection_id: uuid.UUID, query: str, **bounds: int | None) -> list[int]:
    with sync_session_factory()() as session:
        return search.keyword_ranks(
            session,
            query=query,
            filters=search.SearchFilters(collection_ids=[collection_id]),
            limit=40,
            **bounds,
        )


def analyze() -> None:
    """Refresh the planner's statistics now (autovacuum would, later)."""
    with sync_session_factory()() as session:
        session.execute(text("ANALYZE chunks"))
        session.commit()


def test_a_rare_word_outranks_a_word_thousands_of_chunks_share(on_the_stack: Stack) -> None:
    common, rare, filler = made_up_words(3)
    # 3,000 chunks hold the common word (some of them three times); the one chunk with the rare
    # word comes last, so a scan that stops early in table order would never reach it.
    texts = [f"{common} {filler}" if i % 2 else f"{common} {common} {common}" for i in range(3000)]
    collection_id, ids = library(on_the_stack, [*texts, f"{rare} {filler}"])
    rare_chunk = ids[-1]

    # Before any ANALYZE lists the common word, both are counted among the candidates; after it,
    # the statistics tell which is common. Either way, and with candidates bounded far below
    # 3,000, the rare word's chunk ranks first, then chunks with the common word.
    for refresh in (False, True):
        if refresh:
            analyze()
        for bound in ({}, {"candidates": 100}, {"candidates": None}):
            found = ranks(collection_id, f"{common} {rare}", **bound)
            assert found[0] == rare_chunk, (refresh, bound)
            assert len(found) == 40 and set(found[1:]) <= set(ids[:-1])


def test_chunks_with_all_the_words_come_first(on_the_stack: Stack) -> None:
    common, rare, filler = made_up_words(3)
    texts = [
        f"{common} {common} {common} {common} {filler}",  # the common word, often
        f"{rare} {rare} {rare} {filler}",  # the rare word, often
        f"{common} {filler} {filler} {filler} {filler} {filler} {filler} {rare}",  # both, far apart
        f"{common} {rare} {filler}",  # both, side by side
        *(f"{common} {filler}" for _ in range(500)),
    ]
    collection_id, ids = library(on_the_stack, texts)
    analyze()
    for bound in ({}, {"candidates": 50}):
        found = ranks(collection_id, f"{rare} {common}", **bound)
        # All words first, the closer pair ahead (ts_rank_cd); then the rare word; then the common one.
        assert found[:4] == [ids[3], ids[2], ids[1], ids[0]], bound


def test_the_bound_keeps_the_top_of_the_full_ranking(on_the_stack: Stack) -> None:
    """3,000 chunks of 30 words from a 2,000-word Zipf vocabulary (the commonest word in about a
    quarter of the chunks, half the words unlisted in the statistics); queries of three words drawn
    by frequency. Bounded to 300 candidates per word, the first 10 are those of the ranking of
    every match."""
    rng = random.Random(12)
    vocabulary = made_up_words(2000)
    weights = [1 / (rank + 20) for rank in range(len(vocabulary))]
    texts = [" ".join(rng.choices(vocabulary, weights, k=30)) for _ in range(3000)]
    collection_id, _ = library(on_the_stack, texts)
    analyze()
    for _ in range(30):
        query = " ".join(rng.choices(vocabulary, weights, k=3))
        bounded, every = (
            ranks(collection_id, query, candidates=300),
            ranks(collection_id, query, candidates=None),
        )
        assert bounded[:10] == every[:10], query


def test_odd_lexemes_and_search_syntax(on_the_stack: Stack) -> None:
    word, other = made_up_words(2)
    collection_id, ids = library(
        on_the_stack,
        [
            f"see https://example.com/{word}'s?q=1 and C:\\{other}\\notes",
            f"{word} alone",
            f"{word} beside {other}",
        ],
    )
    # Lexemes with a quote (a URL) and from a path with backslashes: quoted as tsquery text.
    assert ranks(collection_id, f"https://example.com/{word}'s?q=1 notes")[:1] == [ids[0]]
    assert ranks(collection_id, f"C:\\{other}\\notes")[:1] == [ids[0]]
    # Search syntax means what it says, bounded too.
    assert ranks(collection_id, f"{word} -{other}") == [ids[1]]
    assert ranks(collection_id, f'"{word} beside"', candidates=1) == [ids[2]]
    assert ranks(collection_id, "the and of") == []  # stop words only
