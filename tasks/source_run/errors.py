"""What goes wrong in a source run: one item (the run goes on) or the listing (the run fails)."""

from __future__ import annotations


class ItemError(Exception):
    """One item could not be brought in (fetch error, too large, unreadable, unsupported): recorded
    in the run's `item_errors` as {item, code, detail}; the run goes on with the next item."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class ListingError(Exception):
    """The list of items could not be read (the feed or sitemap itself, the folder): the run fails."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
