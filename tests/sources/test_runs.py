"""A source's runs on the real stack: new items are added, changed ones re-ingested, unchanged ones
left alone, disappeared ones removed (when asked), and every run logged."""

from __future__ import annotations

from tests.conftest import ApiClient
from tests.sources.conftest import (
    create_source,
    ingest_jobs_of,
    run_source,
    shared_collection,
    source_documents,
    wait_ready,
)
from tests.support.site import Site, html
from tests.support.stack import Stack


def test_a_feed_adds_then_reingests_only_what_changed_and_removes_what_disappeared(
    admin_client: ApiClient, stack: Stack, site: Site
) -> None:
    a = site.page("/a", html("Alpha", "Spaced repetition schedules reviews at growing intervals."))
    b = site.page("/b", html("Beta", "Interleaving mixes problem types in one session."))
    c = site.page("/c", html("Gamma", "Elaboration links new facts to known ones."))
    feed = site.feed("/feed.xml", [a, b, c])
    collection = shared_collection(admin_client)
    source = create_source(admin_client, collection, kind="feed", location=feed, remove_missing=True)

    job, run = run_source(admin_client, source)
    assert job["status"] == "succeeded", job
    assert job["output"]["added"] == 3 and job["output"]["run_id"] == run["id"]
    assert (run["status"], run["listed"], run["added"], run["changed"], run["unchanged"]) == (
        "succeeded",
        3,
        3,
        0,
        0,
    )
    assert run["removed"] == 0 and run["failed"] == 0 and run["truncated"] is False
    assert run["finished_at"] is not None and run["item_errors"] == []
    wait_ready(stack, source["id"])
    found = admin_client.post(
        "/v1/search",
        json={"query": "interleaving problem types", "collections": [collection["name"]], "mode": "keyword"},
    ).json()
    assert found["items"] and found["items"][0]["document_title"] == "Beta"
    before = source_documents(stack, source["id"])
    assert set(before) == {f"url:{a}", f"url:{b}", f"url:{c}"}

    # b changes, c leaves the feed, a stays as it was.
    site.page("/b", html("Beta", "Desirable difficulties make learning stick."))
    site.feed("/feed.xml", [a, b])
    job, run = run_source(admin_client, source)
    assert job["status"] == "succeeded", job
    assert (run["listed"], run["added"], run["changed"], run["unchanged"], run["removed"]) == (2, 0, 1, 1, 1)
    after = source_documents(stack, source["id"])
    assert set(after) == {f"url:{a}", f"url:{b}"}
    assert ingest_jobs_of(stack, before[f"url:{a}"]["id"]) == 1  # unchanged: no new ingest job
    assert ingest_jobs_of(stack, before[f"url:{b}"]["id"]) == 2
    assert after[f"url:{b}"]["id"] == before[f"url:{b}"]["id"]  # replaced in place
    assert stack.sql("SELECT count(*) FROM documents WHERE id = %s", before[f"url:{c}"]["id"])[0][0] == 0
    wait_ready(stack, source["id"])
    found = admin_client.post(
        "/v1/search",
        json={"query": "desirable difficulties", "collections": [collection["name"]], "mode": "keyword"},
    ).json()
    assert found["items"] and "Desirable difficulties" in found["items"][0]["text"]

    detail = admin_client.get(f"/v1/admin/sources/{source['id']}").json()
    assert [r["id"] for r in detail["runs"]][0] == run["id"] and len(detail["runs"]) == 2
    assert detail["documents"] == 2 and detail["last_run"]["id"] == run["id"]
    assert detail["consecutive_failures"] == 0 and detail["last_run_at"] is not None


def test_without_remove_missing_a_document_that_left_the_feed_stays(
    admin_client: ApiClient, stack: Stack, site: Site
) -> None:
    a = site.page("/a", html("Alpha", "Retrieval practice beats rereading."))
    b = site.page("/b", html("Beta", "Sleep consolidates memories."))
    feed = site.feed("/feed.xml", [a, b])
    collection = shared_collection(admin_client)
    source = create_source(admin_client, collection, kind="feed", location=feed)
    run_source(admin_client, source)
    site.feed("/feed.xml", [a])
    job, run = run_source(admin_client, source)
    assert (run["listed"], run["unchanged"], run["removed"], run["removal_skipped"]) == (1, 1, 0, None)
    assert set(source_documents(stack, source["id"])) == {f"url:{a}", f"url:{b}"}


def test_an_item_another_source_brought_in_is_left_alone_until_that_source_is_deleted(
    admin_client: ApiClient, stack: Stack, site: Site
) -> None:
    shared = site.page("/shared", html("Shared", "Spacing and testing work together."))
    own = site.page("/own", html("Own", "Concrete examples first, then the rule."))
    collection = shared_collection(admin_client)
    first = create_source(admin_client, collection, kind="page", location=shared)
    second = create_source(
        admin_client, collection, kind="feed", location=site.feed("/feed.xml", [shared, own])
    )
    run_source(admin_client, first)
    wait_ready(stack, first["id"])
    [before] = source_documents(stack, first["id"]).values()

    # The page changes; the second source lists it too, but the first one owns its document.
    site.page("/shared", html("Shared", "Spacing, testing and interleaving work together."))
    job, run = run_source(admin_client, second)
    assert job["status"] == "succeeded", job
    assert (run["added"], run["changed"], run["failed"]) == (1, 0, 1)
    assert [(error["item"], error["code"]) for error in run["item_errors"]] == [
        (shared, "owned_by_another_source")
    ]
    assert source_documents(stack, first["id"]) == {
        f"url:{shared}": before
    }  # untouched: no new hash, no ingest
    assert ingest_jobs_of(stack, before["id"]) == 1

    # Once the first source is deleted, its document is an ordinary one, and the second adopts it.
    assert admin_client.delete(f"/v1/admin/sources/{first['id']}").status_code == 204
    job, run = run_source(admin_client, second)
    assert (run["changed"], run["unchanged"], run["failed"]) == (1, 1, 0)
    adopted = source_documents(stack, second["id"])[f"url:{shared}"]
    assert adopted["id"] == before["id"] and adopted["content_hash"] != before["content_hash"]
