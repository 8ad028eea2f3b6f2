"""The answer cache on the real stack: exact and semantic hits, a negation that must miss, a
question whose case or symbols are its meaning, an entry stored under an older key rule, privacy,
invalidation by a document change, and the admin view."""

from __future__ import annotations

import hashlib
import time

from tests.ask.test_ask import ask, library
from tests.conftest import ApiClient
from tests.documents.test_api import ingest
from tests.support.fake_ollama import FakeOllama
from tests.support.metrics import sample
from tests.support.stack import Stack


def scripted_answer(fake_ollama: FakeOllama, question: str, word: str) -> None:
    fake_ollama.script(
        question, f"A {word} session lasts twenty minutes and ends with a short written summary [1]."
    )


def test_exact_semantic_and_negated_questions(client: ApiClient, fake_ollama: FakeOllama):
    collection, word, _ = library(client)
    question = f"Is {word} safe for beginners?"
    scripted_answer(fake_ollama, question, word)
    first = ask(client, question, collections=[collection])
    assert first["output"]["cached"] is False and first["output"]["grounded"] is True

    # Exact (after normalization): answered by the API at once, as a job that is already done.
    api = str(client.base_url).rstrip("/")
    hits = sample(api, "mentorq_answer_cache_lookups_total", where="api", result="hit")
    started = time.perf_counter()
    response = client.post(
        "/api/ask", json={"question": f"  is {word.upper()} SAFE for beginners ", "collections": [collection]}
    )
    assert response.status_code == 202 and response.json()["status"] == "succeeded"
    assert time.perf_counter() - started < 5
    hit = response.json()["output"]
    assert hit["cached"] is True and hit["cache_match"] == "exact"
    assert hit["cached_from_job_id"] == first["id"] and hit["answer"] == first["output"]["answer"]
    assert sample(api, "mentorq_answer_cache_lookups_total", where="api", result="hit") == hits + 1
    assert response.json()["instructions_version"] == first["instructions_version"]

    # A paraphrase with the same content words: a semantic hit, found by the job.
    chats = fake_ollama.requests["/api/chat"]
    paraphrase = ask(client, f"{word}: is it safe for a beginner?", collections=[collection])["output"]
    assert paraphrase["cached"] is True and paraphrase["cache_match"] == "semantic"
    assert paraphrase["cached_from_job_id"] == first["id"]
    assert fake_ollama.requests["/api/chat"] == chats

    # Its negation is as close in embedding space, but its content words differ: never a hit.
    negated = f"Is {word} unsafe for beginners?"
    scripted_answer(fake_ollama, negated, word)
    output = ask(client, negated, collections=[collection])["output"]
    assert output["cached"] is False and fake_ollama.requests["/api/chat"] == chats + 1


def answered_afresh(
    client: ApiClient, fake_ollama: FakeOllama, question: str, word: str, collection: str
) -> dict:
    """Ask a question (its answer scripted) that the cache must not answer; the finished job."""
    scripted_answer(fake_ollama, question, word)
    job = ask(client, question, collections=[collection])
    assert job["output"]["cached"] is False, job["output"].get("cache_match")
    return job


def test_a_question_whose_case_or_symbol_differs_is_never_answered_from_the_cache(
    client: ApiClient, fake_ollama: FakeOllama
):
    # Issue 42's probe: "%M" was served the entry for "%m" (cache_match "exact"), and the model's
    # embeddings, blind to case, would make it a semantic hit too.
    collection, word, _ = library(client)
    for question in (f"What does %m mean in a {word} session?", f"Does a {word} session end with ✓?"):
        assert answered_afresh(client, fake_ollama, question, word, collection)["output"]["grounded"] is True
        again = client.post("/api/ask", json={"question": question.lower(), "collections": [collection]})
        assert again.status_code == 202 and again.json()["output"]["cache_match"] == "exact"
    chats = fake_ollama.requests["/api/chat"]
    for other in (f"What does %M mean in a {word} session?", f"Does a {word} session end with ✗?"):
        answered_afresh(client, fake_ollama, other, word, collection)
    assert fake_ollama.requests["/api/chat"] == chats + 2


def test_an_entry_stored_under_the_previous_key_rule_is_never_matched(
    client: ApiClient, fake_ollama: FakeOllama, stack: Stack
):
    collection, word, _ = library(client)
    question = f"What does %m mean in a {word} session?"
    first = answered_afresh(client, fake_ollama, question, word, collection)
    # File the entry as key version 2 did (case folded, "sig:2"): under it, "%M" and "%m" shared a key.
    ((context,),) = stack.sql("SELECT context_key FROM answer_cache WHERE job_id = %s", first["id"])
    old_key = hashlib.sha256(f"q2\n{context}\nwhat does % m mean in a {word} session".encode()).hexdigest()
    old_words = ["sig:2", "q:what", "w:%", "w:m", "w:mean", "w:in", f"w:{word}", "w:session"]
    stack.sql(
        "UPDATE answer_cache SET lookup_key = %s, content_words = %s WHERE job_id = %s",
        old_key,
        old_words,
        first["id"],
    )
    for asked in (f"What does %M mean in a {word} session?", question):
        answered_afresh(client, fake_ollama, asked, word, collection)


def test_a_private_entry_never_answers_another_user(
    client: ApiClient, other_client: ApiClient, fake_ollama: FakeOllama
):
    collection, word, _ = library(client)
    question = f"How long is a {word} session?"
    scripted_answer(fake_ollama, question, word)
    mine = ask(client, question)  # default collections: the shared library and my own
    assert mine["output"]["grounded"] is True and mine["output"]["cached"] is False
    again = ask(client, question)
    assert again["output"]["cached"] is True
    # The other user asks the very same question: their default scope lacks my collection.
    theirs = ask(other_client, question)["output"]
    assert theirs["cached"] is False
    mine_chunks = {c["chunk_id"] for c in mine["output"]["citations"]}
    assert not mine_chunks & {c["chunk_id"] for c in theirs["citations"]}
    # Nor can they name my collection.
    assert (
        other_client.post("/api/ask", json={"question": question, "collections": [collection]}).status_code
        == 404
    )


def test_a_document_change_invalidates_the_entries_that_searched_its_collection(
    client: ApiClient, admin_client: ApiClient, fake_ollama: FakeOllama
):
    collection, word, document_id = library(client)
    question = f"What does a {word} session end with?"
    scripted_answer(fake_ollama, question, word)
    first = ask(client, question, collections=[collection])
    entries = admin_client.get("/v1/admin/cache", params={"limit": 200}).json()
    assert any(item["job_id"] == first["id"] and item["private"] for item in entries["items"])

    # Another document in the same collection: the entry is gone and the question is answered afresh.
    added = ingest(
        client,
        "more.md",
        f"# More\n\nA {word} session may also end with a quiz.\n".encode(),
        collection=collection,
    )
    assert added["status"] == "ready"
    entries = admin_client.get("/v1/admin/cache", params={"limit": 200}).json()
    assert not any(item["job_id"] == first["id"] for item in entries["items"])
    second = ask(client, question, collections=[collection])
    assert second["output"]["cached"] is False

    # Deleting a document does the same.
    assert ask(client, question, collections=[collection])["output"]["cached"] is True
    assert client.delete(f"/v1/documents/{added['id']}").status_code == 204
    assert ask(client, question, collections=[collection])["output"]["cached"] is False


def test_admin_cache_view_and_purge(client: ApiClient, admin_client: ApiClient, fake_ollama: FakeOllama):
    assert client.get("/v1/admin/cache").status_code == 403
    assert client.delete("/v1/admin/cache").status_code == 403
    collection, word, _ = library(client)
    question = f"How long does {word} take?"
    scripted_answer(fake_ollama, question, word)
    ask(client, question, collections=[collection])
    ask(client, question, collections=[collection])
    view = admin_client.get("/v1/admin/cache", params={"window_hours": 1}).json()
    assert view["entries"] >= 1 and view["hits"] >= 1 and view["misses"] >= 1
    assert view["hit_ratio"] == round(view["hits"] / (view["hits"] + view["misses"]), 4)
    entry = next(item for item in view["items"] if item["question"] == question)
    assert entry["hits"] == 1
    purged = admin_client.delete("/v1/admin/cache", params={"user_id": client.user_id}).json()
    assert purged["purged"] >= 1
    assert ask(client, question, collections=[collection])["output"]["cached"] is False
