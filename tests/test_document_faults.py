"""Knowledge-store faults against real processes: a worker killed mid-embedding, re-embedding
without an outage, URL fetch failures, and search with no query worker."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from db.embeddings import ensure_model_index, index_name
from db.session import sqlalchemy_url
from tests.conftest import ApiClient, make_admin
from tests.documents.test_api import ingest, upload, wait_document
from tests.profiles.support import wait_job
from tests.support.stack import Stack, wait_until

pytestmark = pytest.mark.slow

NEW_MODEL = "ollama:nomic-embed-text:latest"
OLD_MODEL = "all-MiniLM-L6-v2"


def big_markdown(sections: int) -> bytes:
    parts = []
    for i in range(sections):
        sentences = " ".join(
            f"Point {j} of lesson {i} explains retrieval, spacing and feedback in practice."
            for j in range(12)
        )
        parts.append(f"## Lesson {i}\n\n{sentences}\n")
    return ("# Course\n\n" + "\n".join(parts)).encode()


def test_worker_killed_while_embedding_a_large_document_finishes_it_complete(
    stack: Stack, client: ApiClient
) -> None:
    result = upload(client, [("course.md", big_markdown(260), None)])
    document_id = result["body"]["items"][0]["document"]["id"]

    def embedded() -> int:
        return stack.sql(
            "SELECT count(*) FROM embeddings e JOIN chunks c ON c.id = e.chunk_id WHERE c.document_id = %s",
            document_id,
        )[0][0]

    wait_until(lambda: embedded() >= 30, timeout=120, interval=0.1, message="embedding under way")
    stack.kill("worker")  # mid-embedding: SIGKILL to the worker and its pool
    partial = embedded()
    stack.start_worker()
    document = wait_document(client, document_id, timeout=240)
    assert document["status"] == "ready", document["error"]
    chunks = stack.sql(
        "SELECT position, generation FROM chunks WHERE document_id = %s ORDER BY position", document_id
    )
    assert [position for position, _ in chunks] == list(range(len(chunks)))  # complete, no duplicates
    assert len({generation for _, generation in chunks}) == 1
    assert len(chunks) == document["chunk_count"] > partial
    assert embedded() == len(chunks)  # one vector per chunk, none twice
    # The document turns ready in the stage's own transaction; the job is marked succeeded just
    # after, when the stage returns, so wait for the job to end rather than read it at once.
    job = wait_job(client, document["ingest_job_id"], timeout=60)
    assert job["status"] == "succeeded" and job["attempts"] == 2


def test_an_existing_model_index_is_checked_without_a_table_lock(stack: Stack) -> None:
    """CREATE INDEX IF NOT EXISTS takes a SHARE lock on embeddings even when the index exists;
    two gpu processes doing that and then inserting vectors deadlocked. The check must pass
    while another transaction holds what an INSERT holds."""
    name = index_name(OLD_MODEL)
    assert stack.sql("SELECT to_regclass(%s) IS NOT NULL", name) == [(True,)]  # made by the migration
    engine = create_engine(sqlalchemy_url(stack.database_url))
    try:
        with psycopg.connect(stack.database_url.replace("+psycopg", "")) as inserter:
            inserter.execute("LOCK TABLE embeddings IN ROW EXCLUSIVE MODE")  # held until rollback
            with Session(engine) as session:
                session.execute(text("SET lock_timeout = '2s'"))
                ensure_model_index(session, model=OLD_MODEL, dim=384)  # LockNotAvailable if it locks
                session.commit()
            inserter.rollback()
    finally:
        engine.dispose()


def test_reembedding_switches_models_without_an_outage(stack: Stack, client: ApiClient, fake_ollama) -> None:
    ingest(
        client,
        "spacing.md",
        b"# Spacing\n\nSpread reviews out over days.\n\n## Sleep\n\nSleep consolidates memory.",
    )
    ingest(client, "lessons.md", big_markdown(40))  # enough chunks that re-embedding takes several beats
    make_admin(stack, client)
    status = client.get("/v1/admin/embeddings").json()
    assert status["active_model"] == OLD_MODEL and not status["reembedding"]
    total = status["searchable_chunks"]

    stack.stop("beat")
    stack.stop("worker")
    env = {"MENTORQ_EMBED_MODEL": NEW_MODEL, "MENTORQ_REEMBED_BATCH_CHUNKS": "10"}
    try:
        stack.start_worker("reembedder", concurrency=1, extra_env=env)
        stack.start_beat(extra_env=env)

        def coverage() -> int:
            models = {m["model"]: m for m in client.get("/v1/admin/embeddings").json()["models"]}
            return models.get(NEW_MODEL, {}).get("embedded", 0)

        wait_until(lambda: 0 < coverage() < total, timeout=60, interval=0.05, message="re-embed half done")
        stack.stop("beat")
        stack.stop("reembedder")
        assert 0 < coverage() < total
        # Half done: search keeps using the old model (a worker with the old settings embeds the query).
        stack.start_worker()
        answers = []
        wait_until(  # a fresh worker process first loads its embedding model
            lambda: (
                answers.append(
                    client.post("/v1/search", json={"query": "sleep and memory", "mode": "vector", "k": 3})
                )
                or answers[-1].status_code == 200
            ),
            timeout=60,
            message="search answered",
        )
        half = answers[-1].json()
        assert half["model"] == OLD_MODEL and half["items"], half
        assert client.get("/v1/admin/embeddings").json()["active_model"] == OLD_MODEL
        stack.stop("worker")

        stack.start_worker("reembedder", concurrency=1, extra_env=env)
        stack.start_beat(extra_env=env)
        wait_until(
            lambda: client.get("/v1/admin/embeddings").json()["active_model"] == NEW_MODEL,
            timeout=120,
            message="switch to the new model",
        )
        asked_before = fake_ollama.requests["/api/embed"]
        after = client.post("/v1/search", json={"query": "sleep and memory", "mode": "vector", "k": 3}).json()
        assert after["model"] == NEW_MODEL and after["items"]
        assert fake_ollama.requests["/api/embed"] == asked_before + 1  # the query went to the new model
        reembed_jobs = stack.sql(
            "SELECT count(*), bool_and(status = 'succeeded') FROM jobs WHERE kind = 'reembed'"
        )
        assert reembed_jobs[0][0] >= 2 and reembed_jobs[0][1]
    finally:
        stack.stop("beat")
        stack.stop("reembedder")
        # Back to the suite's model: switch, and prune the other model's rows as an operator would.
        stack.sql("UPDATE knowledge_state SET value = %s WHERE key = 'active_embed_model'", OLD_MODEL)
        stack.sql("DELETE FROM embeddings WHERE model <> %s", OLD_MODEL)
        stack.stop("worker")
        stack.start_worker()
        stack.start_beat()


def test_search_answers_503_when_no_query_worker_embeds_the_query(stack: Stack, client: ApiClient) -> None:
    stack.stop("worker")
    try:
        started = time.monotonic()
        response = client.post("/v1/search", json={"query": "anything", "mode": "hybrid"})
        assert response.status_code == 503 and response.json()["code"] == "embedding_unavailable"
        assert time.monotonic() - started < 15  # the 3 s budget of the test stack, not a hang
        keyword = client.post("/v1/search", json={"query": "anything", "mode": "keyword"})
        assert keyword.status_code == 200  # keyword search needs no model
    finally:
        stack.start_worker()


class _Site:
    """A loopback web server: /ok serves Markdown, /missing is 404, /slow never answers in time."""

    def __init__(self) -> None:
        release = self.release = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/slow":
                    release.wait(30)
                if self.path == "/ok":
                    body = b"# Fetched\n\nThe testing effect, fetched over HTTP."
                    self.send_response(200)
                    self.send_header("content-type", "text/markdown")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_url_documents_fetch_or_fail_with_a_code(client: ApiClient) -> None:
    site = _Site()
    try:
        results = {}
        for path in ("/ok", "/missing", "/slow"):
            response = client.post("/v1/documents/url", json={"url": site.base + path, "collection": "web"})
            assert response.status_code == 202, response.text
            results[path] = response.json()["document"]["id"]
        documents = {path: wait_document(client, document_id) for path, document_id in results.items()}
    finally:
        site.close()
    assert documents["/ok"]["status"] == "ready" and documents["/ok"]["chunk_count"] == 1
    assert documents["/missing"]["error"]["code"] == "url_not_found"
    assert documents["/slow"]["error"]["code"] == "url_timeout"


def test_url_to_a_private_address_is_refused_where_not_allowed(stack: Stack) -> None:
    from tests.conftest import register

    with stack.extra_api(MENTORQ_FETCH_ALLOW_PRIVATE="false") as url, register(url) as strict:
        for target in ("http://127.0.0.1/x", "http://10.0.0.7/doc", "http://169.254.169.254/latest"):
            response = strict.post("/v1/documents/url", json={"url": target})
            assert response.status_code == 422 and response.json()["code"] == "url_forbidden", response.text
