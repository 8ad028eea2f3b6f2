"""The Answer cache and Embeddings pages on the real stack: real entries made by ask jobs, a real
re-embed run by beat and a worker, the purge over HTTP and in Chromium, and every refusal (a
non-admin, a missing or wrong CSRF token, another origin) leaving the cache as it was."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from core import lanes
from tests.ask.test_answer_cache import scripted_answer
from tests.ask.test_ask import ask, library
from tests.conftest import ApiClient
from tests.console.attack_pages import forged_in_the_browser
from tests.console.browsing import WAIT_MS, at_width
from tests.console.support import (
    PASSWORD,
    console_routes,
    console_sign_in,
    csrf_token,
    forged_posts_refused,
    signed_in,
)
from tests.profiles.support import wait_job
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack, wait_until

PAGES = ("/admin/cache", "/admin/embeddings")
PURGE = "/admin/cache/purge"
REEMBED_NOW = "/admin/embeddings/reembed"
JOB_S = 120  # a job to run once its worker is back, on a loaded machine


@pytest.fixture(scope="module")
def console(stack: Stack, admin: ApiClient) -> Iterator[httpx.Client]:
    response = console_sign_in(stack, admin)
    assert response.status_code == 303
    with closing(response.client) as client:
        yield client


def post(console: httpx.Client, path: str, **fields: str) -> httpx.Response:
    return console.post(path, data={"csrf_token": csrf_token(console, "/admin"), **fields})


@dataclass(frozen=True)
class Cached:
    """A question an account asked of its own collection, twice: the first job made the entry."""

    question: str
    collection: str
    first: dict


def cached_question(client: ApiClient, fake_ollama: FakeOllama) -> Cached:
    """Ask a question of the account's own new collection, then again (answered from the cache)."""
    collection, word, _ = library(client)
    question = f"How long is a {word} session?"
    scripted_answer(fake_ollama, question, word)
    first = ask(client, question, collections=[collection])
    assert first["output"]["cached"] is False
    assert ask(client, question, collections=[collection])["output"]["cached"] is True
    return Cached(question, collection, first)


def entry_of(admin: ApiClient, job_id: str) -> dict | None:
    """The cache's entry for the answer of `job_id`, as /v1/admin/cache lists it (None: gone)."""
    items = admin.get("/v1/admin/cache", params={"limit": 200}).json()["items"]
    return next((item for item in items if item["job_id"] == job_id), None)


def test_the_route_table_has_both_pages_and_the_purge_form() -> None:
    """The access tests (test_console_access.py) try every route in this table."""
    routes = set(console_routes())
    assert {("GET", path) for path in PAGES} | {("POST", PURGE), ("POST", REEMBED_NOW)} <= routes


def test_a_non_admin_is_refused_every_new_page_and_the_purge(
    stack: Stack, client: ApiClient, admin: ApiClient, fake_ollama: FakeOllama
) -> None:
    first = cached_question(client, fake_ollama).first
    with closing(signed_in(stack, client)) as user_browser:
        token = csrf_token(user_browser)  # a valid token: refused all the same
        for path in PAGES:
            response = user_browser.get(path)
            assert response.status_code == 403, path
            assert 'id="error-code">admin_only<' in response.text, path
        response = user_browser.post(
            PURGE, data={"csrf_token": token, "confirm": "yes", "email": client.email, "password": PASSWORD}
        )
        assert response.status_code == 403
        assert 'id="error-code">admin_only<' in response.text
    assert entry_of(admin, first["id"]) is not None


def test_the_purge_refuses_a_missing_or_wrong_token_and_another_origin(
    console: httpx.Client, client: ApiClient, admin: ApiClient, fake_ollama: FakeOllama
) -> None:
    first = cached_question(client, fake_ollama).first
    forged_posts_refused(console, csrf_token(console, "/admin/cache"), PURGE, {"confirm": "yes"})
    assert entry_of(admin, first["id"]) is not None


def test_the_cache_page_lists_real_entries_and_purges_one_accounts_private_ones(
    console: httpx.Client,
    client: ApiClient,
    other_client: ApiClient,
    admin: ApiClient,
    fake_ollama: FakeOllama,
) -> None:
    mine = cached_question(client, fake_ollama)
    first, question = mine.first, mine.question
    theirs = cached_question(other_client, fake_ollama).first
    report = admin.get("/v1/admin/cache", params={"window_hours": 1}).json()
    page = console.get("/admin/cache", params={"window_hours": 1})
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    row = page.text.split(f'id="entry-{entry_of(admin, first["id"])["id"]}"')[1].split("</tr>")[0]
    assert question in row and f"/admin/jobs/{first['id']}" in row
    answers, collections, _, _, _, hits = re.findall(r"<td[^>]*>(.*?)</td>", row)[:6]
    assert (answers, collections, hits) == ("its asker only", "1", "1")  # private, answered from once
    # The totals are the JSON route's (the same service): at most the ask jobs since differ.
    assert f'<dd id="cache-entries">{report["entries"]}</dd>' in page.text
    ratio = f"{report['hit_ratio'] * 100:.1f} %"
    assert f'<dd id="cache-hit-ratio">{ratio}</dd>' in page.text

    # Without the confirmation box, or for an e-mail no account has: refused, nothing purged.
    response = post(console, PURGE, email=client.email)
    assert (response.status_code, "confirmation_required" in response.text) == (422, True)
    response = post(console, PURGE, email="nobody-at-all@example.com", confirm="yes")
    assert (response.status_code, "user_not_found" in response.text) == (404, True)
    assert entry_of(admin, first["id"]) is not None

    response = post(console, PURGE, email=client.email.upper(), confirm="yes")
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/cache?purged=1&owner={client.user_id}"
    done = console.get(response.headers["location"])
    assert f"Purged the private entries of {client.email}: 1 entry removed." in done.text
    assert entry_of(admin, first["id"]) is None
    assert entry_of(admin, theirs["id"]) is not None  # another account's entry stays
    assert f"/admin/jobs/{first['id']}" not in done.text
    # The question is answered afresh, as after the API's own purge.
    assert ask(client, question, collections=[mine.collection])["output"]["cached"] is False


def chunk_ids_of(stack: Stack, document_id: str) -> list[int]:
    rows = stack.sql(
        "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "
        "AND c.generation = d.active_generation WHERE d.id = %s ORDER BY c.id",
        document_id,
    )
    return [chunk_id for (chunk_id,) in rows]


def queued_reembed(stack: Stack, chunks: list[int]) -> tuple[str, int] | None:
    """The `reembed` job beat queued for these chunks: (its id, how many chunks it embeds)."""
    rows = stack.sql(
        "SELECT id, jsonb_array_length(input->'chunk_ids') FROM jobs "
        "WHERE kind = 'reembed' AND input->'chunk_ids' @> %s::jsonb",
        json.dumps(chunks),
    )
    return (str(rows[0][0]), rows[0][1]) if rows else None


def embedded(status: dict, model: str) -> int:
    return next(entry["embedded"] for entry in status["models"] if entry["model"] == model)


def test_the_embeddings_page_follows_a_real_reembed(
    stack: Stack, console: httpx.Client, client: ApiClient, admin: ApiClient
) -> None:
    _, _, document_id = library(client)
    chunks = chunk_ids_of(stack, document_id)
    assert chunks
    status = admin.get("/v1/admin/embeddings").json()
    model, total = status["active_model"], status["searchable_chunks"]
    page = console.get("/admin/embeddings")
    assert f'<dd id="active-model"><code>{model}</code></dd>' in page.text
    assert f"{embedded(status, model)} of {total}" in page.text

    # No worker on the embed lane, one on the maintenance lane (beat's pass runs there): the
    # re-embed is queued and waits on the page.
    stack.stop("worker")
    stack.start_worker("maintenance-only", queues=lanes.MAINTENANCE, concurrency=1)
    try:
        # The document's vectors lost (as after a crash mid-ingest): beat's pass re-embeds them.
        stack.sql("DELETE FROM embeddings WHERE model = %s AND chunk_id = ANY(%s)", model, chunks)
        wait_until(lambda: queued_reembed(stack, chunks), timeout=60, message="beat to queue a reembed job")
        job_id, batch = queued_reembed(stack, chunks)
        missing = admin.get("/v1/admin/embeddings").json()
        assert embedded(missing, model) == embedded(status, model) - len(chunks)
        page = console.get("/admin/embeddings")
        assert f"{embedded(missing, model)} of {total}" in page.text
        row = page.text.split(f'href="/admin/jobs/{job_id}"')[1].split("</tr>")[0]
        assert f"<code>{model}</code>" in row and f"<td>{batch}</td>" in row
        assert 'class="status status-queued">queued<' in row
    finally:
        stack.stop("maintenance-only")
        stack.start_worker()

    assert wait_job(admin, job_id, timeout=JOB_S)["status"] == "succeeded"
    page = console.get("/admin/embeddings")
    row = page.text.split(f'href="/admin/jobs/{job_id}"')[1].split("</tr>")[0]
    assert 'class="status status-succeeded">succeeded<' in row and f"<td>{batch}</td>" in row
    done = admin.get("/v1/admin/embeddings").json()
    assert embedded(done, model) == embedded(status, model)
    assert f"{embedded(done, model)} of {total}" in page.text
    # The job's timeline is on its page, as for any job.
    assert re.search(r'id="job-status"[^>]*>succeeded<', console.get(f"/admin/jobs/{job_id}").text)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"], ids=["another port of the host", "another site"])
def test_a_purge_forged_by_another_page_in_the_admins_browser_changes_nothing(
    stack: Stack,
    context: BrowserContext,
    client: ApiClient,
    admin: ApiClient,
    fake_ollama: FakeOllama,
    host: str,
) -> None:
    """From another port of the API's host (the same site: the browser sends the console's cookies,
    and the origin check refuses it) or from another site (the cookies stay home: signed out)."""
    first = cached_question(client, fake_ollama).first
    target = f"{stack.api_url}{PURGE}"
    forged_in_the_browser(context, stack.api_url, host, target, {"csrf_token": "0" * 64, "confirm": "yes"})
    assert entry_of(admin, first["id"]) is not None


def test_both_pages_in_chromium_and_a_purge_through_the_form(
    page: Page, client: ApiClient, admin: ApiClient, fake_ollama: FakeOllama
) -> None:
    cached = cached_question(client, fake_ollama)
    question, first = cached.question, cached.first
    page.goto("/admin")
    page.get_by_role("link", name="Answer cache").click()
    expect(page.get_by_role("heading", name="Answer cache", level=1)).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("link", name="Answer cache")).to_have_attribute(
        "aria-current", "page", timeout=WAIT_MS
    )
    entries = page.get_by_role("table", name="Entries, newest first")
    expect(entries.get_by_role("row", name=question)).to_be_visible(timeout=WAIT_MS)
    at_width(page, "answer-cache")

    page.get_by_label("Yes, purge these entries").check()
    page.get_by_role("button", name="Purge").click()
    expect(page.get_by_role("status")).to_contain_text("Purged the cache:", timeout=WAIT_MS)
    expect(entries.get_by_role("row", name=question)).to_have_count(0, timeout=WAIT_MS)
    assert entry_of(admin, first["id"]) is None

    page.get_by_role("link", name="Embeddings").click()
    expect(page.get_by_role("heading", name="Embeddings", level=1)).to_be_visible(timeout=WAIT_MS)
    model = admin.get("/v1/admin/embeddings").json()["active_model"]
    expect(page.locator("#active-model")).to_have_text(model, timeout=WAIT_MS)
    coverage = page.get_by_role("table", name="Coverage of the searchable chunks, by model")
    expect(coverage.get_by_role("progressbar", name=f"coverage of {model}")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("table", name="Re-embed jobs, newest first")).to_be_visible(timeout=WAIT_MS)
    at_width(page, "embeddings")
    # The button's form, with the page's own token: the pass runs and the page says what it did.
    page.get_by_role("button", name="Re-embed now").click()
    expect(page.get_by_role("status")).to_have_text(
        re.compile(r"^(\d+ reembed jobs? queued|Nothing (queued|to do)|The configured model)"),
        timeout=WAIT_MS,
    )
    expect(page.get_by_role("heading", name="Embeddings", level=1)).to_be_visible(timeout=WAIT_MS)


@contextmanager
def a_failed_reembed_job(stack: Stack) -> Iterator[None]:
    """A `reembed` job that failed just now (a misspelt model, say): beat's pass backs off for five
    minutes after one. Removed afterwards, so that other tests' re-embeds are not held back."""
    job_id = uuid.uuid4()
    stack.sql(
        "INSERT INTO jobs (id, kind, owner_id, status, input, attempts, max_attempts, queue, priority, "
        "completed_at) VALUES (%s, 'reembed', NULL, 'failed', %s::jsonb, 1, 1, 'embed', 0, now())",
        job_id,
        json.dumps({"model": "misspelt", "chunk_ids": []}),
    )
    try:
        yield
    finally:
        stack.sql("DELETE FROM jobs WHERE id = %s", job_id)


def a_documents_chunks(stack: Stack, client: ApiClient, admin: ApiClient) -> tuple[list[int], str]:
    """A new document's searchable chunks, and the model search uses."""
    _, _, document_id = library(client)
    return chunk_ids_of(stack, document_id), admin.get("/v1/admin/embeddings").json()["active_model"]


def drop_vectors(stack: Stack, model: str, chunks: list[int]) -> None:
    """The chunks' vectors lost (as after a crash mid-ingest): a re-embedding pass queues them."""
    stack.sql("DELETE FROM embeddings WHERE model = %s AND chunk_id = ANY(%s)", model, chunks)


def reembed_now(admin: ApiClient) -> dict:
    """POST /v1/admin/embeddings/reembed, again while beat's own pass holds the lock (`busy`)."""
    answers: list[httpx.Response] = []

    def ran() -> bool:
        answers.append(admin.post("/v1/admin/embeddings/reembed"))
        return answers[-1].status_code != 200 or not answers[-1].json().get("busy")

    wait_until(ran, timeout=30, message="a re-embedding pass of its own")
    assert answers[-1].status_code == 200, answers[-1].text
    return answers[-1].json()


def test_reembed_now_runs_the_pass_at_once_despite_a_failed_jobs_back_off(
    stack: Stack, console: httpx.Client, client: ApiClient, admin: ApiClient
) -> None:
    chunks, model = a_documents_chunks(stack, client, admin)
    assert client.post("/v1/admin/embeddings/reembed").status_code == 403  # admins only

    # No worker on the embed lane, so what the pass queues waits; beat runs but backs off.
    stack.stop("worker")
    stack.start_worker("maintenance-only", queues=lanes.MAINTENANCE, concurrency=1)
    try:
        with a_failed_reembed_job(stack):
            drop_vectors(stack, model, chunks)
            done = reembed_now(admin)
            # Queued by the request itself, in its own transaction, past the back-off.
            assert done["queued"] >= 1 and done["active"] == model, done
            job_id, batch = queued_reembed(stack, chunks)
            assert batch >= len(chunks)
            # A second pass, from the page's button, finds that job still queued and adds none.
            token = csrf_token(console, "/admin/embeddings")
            forged_posts_refused(console, token, REEMBED_NOW, {})
            pressed = console.post(REEMBED_NOW, data={"csrf_token": token})
            assert pressed.status_code == 303
            assert pressed.headers["location"] in (
                "/admin/embeddings?queued=0&why=waiting",
                "/admin/embeddings?queued=0&why=busy",  # beat's pass held the lock just then
            )
            page = console.get(pressed.headers["location"])
            assert 'class="notice" role="status">Nothing queued:' in page.text
            [(count,)] = stack.sql(
                "SELECT count(*) FROM jobs WHERE kind = 'reembed' AND input->'chunk_ids' @> %s::jsonb",
                json.dumps(chunks),
            )
            assert count == 1
    finally:
        stack.stop("maintenance-only")
        stack.start_worker()
    assert wait_job(admin, job_id, timeout=JOB_S)["status"] == "succeeded"
    [(restored,)] = stack.sql(
        "SELECT count(*) FROM embeddings WHERE model = %s AND chunk_id = ANY(%s)", model, chunks
    )
    assert restored == len(chunks)


def test_reembed_now_from_the_page_says_how_many_jobs_it_queued(
    stack: Stack, console: httpx.Client, client: ApiClient, admin: ApiClient
) -> None:
    chunks, model = a_documents_chunks(stack, client, admin)
    with a_failed_reembed_job(stack):  # beat backs off: only the button queues
        drop_vectors(stack, model, chunks)

        answers: list[httpx.Response] = []

        def pressed() -> bool:
            """Again while another pass (beat's) holds the lock, or an earlier test's job still runs."""
            answers.append(post(console, REEMBED_NOW))
            return "queued=0" not in answers[-1].headers.get("location", "")

        wait_until(pressed, timeout=60, message="a re-embedding pass that queues")
        answer = answers[-1]
        assert answer.status_code == 303 and answer.headers["location"].startswith(
            "/admin/embeddings?queued="
        )
        queued = int(answer.headers["location"].split("queued=")[1].split("&")[0])
        assert queued >= 1
        page = console.get(answer.headers["location"])
        job = "job" if queued == 1 else "jobs"
        assert (
            f'class="notice" role="status">{queued} reembed {job} queued: they are listed below.' in page.text
        )
        job_id, _ = queued_reembed(stack, chunks)
        assert f'href="/admin/jobs/{job_id}"' in page.text
    assert wait_job(admin, job_id, timeout=JOB_S)["status"] == "succeeded"
