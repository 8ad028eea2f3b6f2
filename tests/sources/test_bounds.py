"""Bounded work: a feed of 10,000 entries, redirect loops in the listing and in an item, a sitemap
index, and items whose redirects lead to forbidden places (the SSRF guard on every hop)."""

from __future__ import annotations

from tests.conftest import ApiClient
from tests.sources.conftest import create_source, run_source, shared_collection, source_documents
from tests.support.site import Site, html
from tests.support.stack import Stack

MAX_ITEMS = 25  # MENTORQ_SOURCE_MAX_ITEMS of the test stack (tests/support/stack.py)


def test_a_feed_of_10000_entries_fetches_at_most_max_items_and_says_it_was_truncated(
    admin_client: ApiClient, stack: Stack, site: Site
) -> None:
    links = [site.url(f"/entry/{i}") for i in range(10_000)]
    for i in range(40):
        site.page(f"/entry/{i}", f"Entry number {i} of the big feed.", "text/plain")
    feed = site.feed("/big.xml", links)
    source = create_source(
        admin_client, shared_collection(admin_client), kind="feed", location=feed, remove_missing=True
    )
    job, run = run_source(admin_client, source)
    assert job["status"] == "succeeded", job
    assert (run["listed"], run["truncated"], run["added"], run["failed"]) == (10_000, True, MAX_ITEMS, 0)
    # Nothing is removed after a truncated run: the documents not looked at may well be there.
    assert run["removal_skipped"] == "truncated"
    fetched = sum(count for path, count in site.hits.items() if path.startswith("/entry/"))
    assert fetched == MAX_ITEMS and site.hits["/big.xml"] == 1
    assert len(source_documents(stack, source["id"])) == MAX_ITEMS


def test_a_feed_url_that_redirects_in_a_loop_fails_the_run_with_a_code(
    admin_client: ApiClient, site: Site
) -> None:
    site.redirect("/loop-a", site.url("/loop-b"))
    loop = site.redirect("/loop-b", site.url("/loop-a"))
    source = create_source(admin_client, shared_collection(admin_client), kind="feed", location=loop)
    job, run = run_source(admin_client, source)
    assert job["status"] == "failed" and job["error"]["code"] == "url_redirect_loop"
    assert run["status"] == "failed" and run["error"]["code"] == "url_redirect_loop"
    assert run["finished_at"] is not None
    assert site.hits["/loop-a"] + site.hits["/loop-b"] <= 4  # bounded, not followed for ever


def test_an_item_that_loops_or_redirects_too_often_is_an_item_error_and_the_others_ingest(
    admin_client: ApiClient, stack: Stack, site: Site
) -> None:
    good = site.page("/good", html("Good", "Chunking helps working memory."))
    site.redirect("/item-a", site.url("/item-b"))
    looping = site.redirect("/item-b", site.url("/item-a"))
    for i in range(6):  # a chain longer than the redirects allowed
        site.redirect(f"/hop/{i}", site.url(f"/hop/{i + 1}"))
    site.page("/hop/6", "the end", "text/plain")
    chain = site.url("/hop/0")
    feed = site.feed("/feed.xml", [looping, good, chain])
    source = create_source(admin_client, shared_collection(admin_client), kind="feed", location=feed)
    job, run = run_source(admin_client, source)
    assert job["status"] == "succeeded", job
    assert (run["status"], run["added"], run["failed"]) == ("succeeded", 1, 2)
    errors = {error["item"]: error["code"] for error in run["item_errors"]}
    assert errors == {looping: "url_redirect_loop", chain: "url_redirect_loop"}
    assert set(source_documents(stack, source["id"])) == {f"url:{good}"}


def test_an_item_redirecting_to_a_forbidden_url_is_an_item_error(admin_client: ApiClient, site: Site) -> None:
    """The stack allows private addresses (its servers are on loopback), so these Locations are the
    ones the guard refuses whatever that setting: another scheme, an IPv4 address in an odd spelling
    (tests/sources/test_guard.py refuses a private address with the setting off)."""
    good = site.page("/good", html("Good", "Dual coding pairs words with pictures."))
    to_file = site.redirect("/to-file", "file:///etc/passwd")
    odd_ip = site.redirect("/to-odd-ip", "http://0x7f.0.0.1/admin")
    feed = site.feed("/feed.xml", [to_file, good, odd_ip])
    source = create_source(admin_client, shared_collection(admin_client), kind="feed", location=feed)
    job, run = run_source(admin_client, source)
    assert job["status"] == "succeeded", job
    assert {error["item"]: error["code"] for error in run["item_errors"]} == {
        to_file: "url_forbidden",
        odd_ip: "url_forbidden",
    }
    assert run["added"] == 1


def test_a_sitemap_index_is_followed_one_level_and_its_urls_ingested(
    admin_client: ApiClient, stack: Stack, site: Site
) -> None:
    one = site.page("/s/1", html("One", "Pretesting primes later learning."))
    two = site.page("/s/2", html("Two", "Feedback should be timely."))
    site.sitemap("/child-1.xml", [one])
    site.sitemap("/child-2.xml", [two, one])
    site.sitemap("/nested.xml", [site.url("/child-1.xml")], index=True)
    index = site.sitemap(
        "/sitemap.xml",
        [site.url("/child-1.xml"), site.url("/child-2.xml"), site.url("/nested.xml"), site.url("/gone.xml")],
        index=True,
    )
    source = create_source(
        admin_client, shared_collection(admin_client), kind="sitemap", location=index, remove_missing=True
    )
    job, run = run_source(admin_client, source)
    assert job["status"] == "succeeded", job
    assert (run["listed"], run["added"]) == (2, 2)
    assert {error["item"]: error["code"] for error in run["item_errors"]} == {
        site.url("/nested.xml"): "sitemap_nested_index",
        site.url("/gone.xml"): "url_not_found",
    }
    # A child sitemap could not be read: the listing is incomplete, so nothing is removed.
    assert run["removal_skipped"] == "listing_incomplete"
    assert set(source_documents(stack, source["id"])) == {f"url:{one}", f"url:{two}"}


def test_a_sitemap_with_entities_is_parsed_without_expanding_them(
    admin_client: ApiClient, site: Site
) -> None:
    page = site.page("/p", html("P", "Worked examples reduce load."))
    body = (
        '<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY ext SYSTEM "file:///etc/passwd">]>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{page}</loc></url>'
        "<url><loc>&ext;</loc></url><url><loc>&b;</loc></url></urlset>"
    )
    sitemap = site.page("/entities.xml", body, "application/xml")
    source = create_source(admin_client, shared_collection(admin_client), kind="sitemap", location=sitemap)
    job, run = run_source(admin_client, source)
    assert job["status"] == "succeeded", job
    assert run["listed"] == 1 and run["added"] == 1  # the entity <loc>s stay empty: nothing read


def test_a_page_that_is_not_a_feed_fails_the_run_as_unparseable(admin_client: ApiClient, site: Site) -> None:
    page = site.page("/not-a-feed", html("Hello", "Not a feed at all."))
    source = create_source(admin_client, shared_collection(admin_client), kind="feed", location=page)
    job, run = run_source(admin_client, source)
    assert job["error"]["code"] == "listing_unparseable" and run["error"]["code"] == "listing_unparseable"
