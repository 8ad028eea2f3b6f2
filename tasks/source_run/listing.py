"""The items of a URL source: a page is itself; a feed lists its entries' links (or their audio and
video enclosures: a podcast's episodes); a sitemap its <loc>s.

Every fetch goes through the caller's `fetch` (the guarded document fetcher: every hop checked,
one deadline, a byte cap, bounded redirects). Nothing here fetches on its own: feedparser gets the
bytes already fetched (wrapped in a stream: given bytes it would try them as a file name first),
and lxml parses sitemaps with entities unresolved, no DTD and no network.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import feedparser
from lxml import etree

from core.documents.errors import DocumentError
from tasks.source_run.errors import ListingError
from workers.documents.fetch import FetchedDocument

Fetch = Callable[[str], FetchedDocument]

GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Listing:
    """What a source holds now: its items in order, each once (URLs, or paths for a folder).

    `cut`: the listing stopped at its bound and more entries exist (a folder walk, a sitemap index's
    unread children). `problems`: parts of the listing that could not be read (a child sitemap, a
    folder), as item errors. Either means a missing document may still be at the source."""

    items: list[str]
    cut: bool = False
    problems: list[dict[str, Any]] = field(default_factory=list)


def unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


def list_page(url: str) -> Listing:
    return Listing([url])


def _fetch_listing(url: str, fetch: Fetch) -> FetchedDocument:
    try:
        return fetch(url)
    except DocumentError as error:
        raise ListingError(error.code, error.message) from None


def list_feed(url: str, fetch: Fetch) -> Listing:
    """The items of an RSS or Atom feed's entries, relative ones resolved against the feed's URL:
    an entry's audio or video enclosure where it has one (a podcast's episode, a lecture's
    recording: transcribed when ingested), else its link. Each item once, however many entries
    list it."""
    fetched = _fetch_listing(url, fetch)
    parsed = feedparser.parse(
        io.BytesIO(fetched.content),
        response_headers={"content-location": fetched.final_url},
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        raise ListingError(
            "listing_unparseable",
            f"{url!r} is not an RSS or Atom feed" + (f" ({reason})" if reason else ""),
        )
    return Listing(unique([_entry_item(entry, fetched.final_url) for entry in parsed.entries]))


MEDIA_TYPES = ("audio/", "video/")


def _entry_item(entry: Any, base: str) -> str:
    for enclosure in entry.get("enclosures") or []:
        href = (enclosure.get("href") or "").strip()
        if href and (enclosure.get("type") or "").lower().startswith(MEDIA_TYPES):
            return urljoin(base, href)
    return _entry_link(entry, base)


def _entry_link(entry: Any, base: str) -> str:
    link = entry.get("link")
    if not link:
        links = entry.get("links") or []
        alternates = [each for each in links if each.get("rel", "alternate") == "alternate"]
        link = (alternates or links or [{}])[0].get("href")
    return urljoin(base, link.strip()) if link else ""


def list_sitemap(url: str, fetch: Fetch, *, max_items: int, max_bytes: int) -> Listing:
    """The <loc>s of a sitemap; a sitemap index's child sitemaps are read (one level, no deeper)
    until `max_items` URLs are known; the unread ones make the listing `cut`."""
    fetched = _fetch_listing(url, fetch)
    kind, locations = parse_sitemap(fetched.content, url=url, max_bytes=max_bytes)
    if kind == "urlset":
        return Listing(unique(locations))
    listing = Listing([])
    children = unique([urljoin(fetched.final_url, location) for location in locations])
    for child in children:
        if len(listing.items) >= max_items:
            listing.cut = True
            break
        try:
            child_kind, child_locations = parse_sitemap(fetch(child).content, url=child, max_bytes=max_bytes)
        except (DocumentError, ListingError) as error:
            detail = error.message
            listing.problems.append({"item": child, "code": error.code, "detail": detail})
            continue
        if child_kind != "urlset":
            listing.problems.append(
                {
                    "item": child,
                    "code": "sitemap_nested_index",
                    "detail": "a sitemap index inside a sitemap index is not followed (one level only)",
                }
            )
            continue
        listing.items = unique(listing.items + child_locations)
    return listing


def parse_sitemap(content: bytes, *, url: str, max_bytes: int) -> tuple[str, list[str]]:
    """('urlset' | 'sitemapindex', the <loc> texts). Gzipped sitemaps are inflated within `max_bytes`."""
    if content.startswith(GZIP_MAGIC):
        content = _gunzip(content, url=url, max_bytes=max_bytes)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(content, parser)
    except (etree.XMLSyntaxError, ValueError) as error:
        raise ListingError("listing_unparseable", f"{url!r} is not an XML sitemap: {error}") from None
    if root is None or not isinstance(root.tag, str):
        raise ListingError("listing_unparseable", f"{url!r} is not an XML sitemap")
    kind = etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        raise ListingError(
            "listing_unparseable", f"{url!r} has a <{kind}> root, neither <urlset> nor <sitemapindex>"
        )
    entry = "url" if kind == "urlset" else "sitemap"
    locations = [
        (child.text or "").strip()
        for element in root
        if isinstance(element.tag, str) and etree.QName(element).localname == entry
        for child in element
        if isinstance(child.tag, str) and etree.QName(child).localname == "loc"
    ]
    return kind, locations


def _gunzip(content: bytes, *, url: str, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(content, max_bytes + 1)
    except zlib.error as error:
        raise ListingError("listing_unparseable", f"{url!r} is not valid gzip: {error}") from None
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise ListingError("too_large", f"{url!r} inflates to more than {max_bytes} bytes")
    return data
