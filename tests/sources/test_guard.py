"""The SSRF guard on a source run's every fetch, with private addresses refused (production's
setting): the run's reader runs in this process against a site on loopback that the guard is told
to treat as public, while every private range stays forbidden. The stack's own workers allow
private addresses (their test servers are on loopback), so this is checked here."""

from __future__ import annotations

import pytest

from core.documents.errors import DocumentError
from core.settings import Settings
from tasks.source_run.errors import ListingError
from tasks.source_run.reader import SourceReader
from tests.support.site import Site, html


def reader(kind: str, location: str) -> SourceReader:
    settings = Settings(env="test", fetch_allow_private=False, fetch_timeout_seconds=5, source_max_items=10)
    return SourceReader(kind, location, settings)


@pytest.mark.usefixtures("loopback_stands_in_for_public")
def test_an_item_redirecting_to_a_private_address_is_refused_before_any_connection(site: Site) -> None:
    good = site.page("/good", html("Good", "Fine."))
    to_private = site.redirect("/to-private", "http://10.0.0.5/internal")
    to_metadata = site.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/")
    direct = "http://192.168.1.1/router"
    source = reader("feed", site.feed("/feed.xml", [to_private, good, to_metadata, direct]))
    assert source.list().items == [to_private, good, to_metadata, direct]
    assert source.read(good).content.startswith(b"<!doctype html>")
    for item in (to_private, to_metadata, direct):
        with pytest.raises(DocumentError) as caught:
            source.read(item)
        assert caught.value.code == "url_forbidden", item
    assert site.hits["/to-private"] == site.hits["/to-metadata"] == 1


@pytest.mark.usefixtures("loopback_stands_in_for_public")
def test_a_listing_redirecting_to_a_private_address_fails_the_listing(site: Site) -> None:
    feed = site.redirect("/feed.xml", "http://10.1.2.3/feed.xml")
    with pytest.raises(ListingError) as caught:
        reader("feed", feed).list()
    assert caught.value.code == "url_forbidden"


def test_without_the_stand_in_loopback_itself_is_refused(site: Site) -> None:
    feed = site.feed("/feed.xml", [site.url("/a")])
    with pytest.raises(ListingError) as caught:
        reader("sitemap", feed).list()
    assert caught.value.code == "url_forbidden" and site.hits["/feed.xml"] == 0


def test_with_private_addresses_allowed_the_metadata_service_is_still_refused(site: Site) -> None:
    # Development's defaults allow private addresses; a sitemap listing the metadata service, or a
    # page redirecting to it, is refused anyway (issue 28: it was fetched).
    settings = Settings(env="test", fetch_allow_private=True, fetch_timeout_seconds=5, source_max_items=10)
    to_metadata = site.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/")
    direct = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    link_local = "http://[fe80::1]/"
    good = site.page("/good", html("Good", "Fine."))
    source = SourceReader(
        "sitemap", site.sitemap("/sitemap.xml", [direct, to_metadata, link_local, good]), settings
    )
    assert source.list().items == [direct, to_metadata, link_local, good]
    assert source.read(good).content.startswith(b"<!doctype html>")
    for item in (direct, to_metadata, link_local):
        with pytest.raises(DocumentError) as caught:
            source.read(item)
        assert caught.value.code == "url_forbidden", item
