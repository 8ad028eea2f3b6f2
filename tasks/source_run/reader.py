"""A source's items, listed and read within the platform's bounds (items, bytes, time, redirects).

Every URL (the listing, each child sitemap, each item, each redirect hop) goes through the
document fetcher: the SSRF guard checks each hop, with MENTORQ_FETCH_ALLOW_PRIVATE; one deadline
(MENTORQ_FETCH_TIMEOUT_SECONDS) bounds a fetch; bodies stop at MENTORQ_MAX_DOCUMENT_BYTES; at most
3 redirects are followed and a loop is refused (`url_redirect_loop`). A folder is checked against
MENTORQ_SOURCE_FOLDERS_ROOT again at every run: the root may have changed since registration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.documents.detect import SNIFF_BYTES, detect_format
from core.settings import Settings
from core.sources import SourceConfigError, folder_root, resolve_folder
from tasks.source_run.errors import ItemError, ListingError
from tasks.source_run.folder import list_folder, read_file
from tasks.source_run.listing import Listing, list_feed, list_page, list_sitemap
from workers.documents.fetch import FetchedDocument, fetch_with_settings

# A folder walk looks at this many entries per allowed item at most (the rest make it `cut`).
WALK_ENTRIES_PER_ITEM = 10


@dataclass
class ItemContent:
    """One item's bytes and what is known about them (a URL item's type and name come from its server)."""

    content: bytes
    content_type: str | None
    filename: str | None
    url: str | None


class SourceReader:
    """Lists one source's items and reads them; raises ListingError for the listing, and ItemError
    or DocumentError (with their codes) for one item."""

    def __init__(self, kind: str, location: str, settings: Settings):
        self.kind = kind
        self.location = location
        self.settings = settings

    def list(self) -> Listing:
        if self.kind == "page":
            return list_page(self.location)
        if self.kind == "feed":
            return list_feed(self.location, self.fetch)
        if self.kind == "sitemap":
            return list_sitemap(
                self.location,
                self.fetch,
                max_items=self.settings.source_max_items,
                max_bytes=self.settings.max_document_bytes,
            )
        if self.kind == "folder":
            folder, _ = self._folder()
            return list_folder(folder, max_entries=self.settings.source_max_items * WALK_ENTRIES_PER_ITEM)
        raise ListingError("invalid_source_kind", f"unknown source kind {self.kind!r}")

    def read(self, item: str) -> ItemContent:
        """The item's bytes, refused when empty or in a format the platform cannot ingest."""
        if self.kind == "folder":
            _, root = self._folder()
            data = read_file(item, root=root, max_bytes=self.settings.max_document_bytes)
            found = ItemContent(data, None, Path(item).name, None)
        else:
            fetched = self.fetch(item)
            found = ItemContent(fetched.content, fetched.content_type, fetched.filename, item)
        if not found.content.strip():
            raise ItemError("empty_document", "the item is empty")
        detect_format(found.filename, found.content_type, found.content[:SNIFF_BYTES])
        return found

    def fetch(self, url: str) -> FetchedDocument:
        return fetch_with_settings(url, self.settings)

    def _folder(self) -> tuple[Path, Path]:
        """(the folder, the root), both resolved."""
        try:
            root = folder_root(self.settings.source_folders_root)
            return resolve_folder(self.location, root), root
        except SourceConfigError as error:
            raise ListingError(error.code, error.message) from None
