"""An address as anyone may see it: the one place that turns a URL into its display form.

The display form keeps the scheme, host, port and path, and drops what an operator may have put in
a URL to authenticate: the userinfo (`user:password@`), the query (`?api-key=…`, `?token=…`) and
the fragment. Every message, error, log line, page and API field that names an address shows this
form; `redact` applies it to every URL inside a free text (an exception's message, a log line).

Parsed by hand rather than with urllib: `urlsplit` raises on some malformed authorities (an
unclosed IPv6 bracket, a port that is not a number), and a message about a bad address is exactly
where one is shown. The authority ends at the first `/`, `?` or `#` (RFC 3986); the userinfo is
everything before its last `@`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# A URL in free text: a scheme, `://`, then everything up to whitespace or a character that
# usually closes a quotation ('"<>`), so "for url 'http://u:p@h/x?k=v'" yields the URL alone; and
# not the punctuation that ends a sentence or a bracket around it ("(see http://h/x?k=v).").
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://(?:[^\s'\"<>`]*[^\s'\"<>`.,;:!?)\]}])?")
_AUTHORITY = re.compile(r"[^/?#]*")


class URLParts(NamedTuple):
    """A URL cut where clients and readers cut it; `userinfo` is None without an `@`."""

    prefix: str  # "scheme://", or "" for a scheme-less "host:port"
    userinfo: str | None
    host: str  # host[:port], as written
    path: str
    query: str
    fragment: str


def url_parts(url: str) -> URLParts:
    """`url` cut into its parts (never raises: a malformed URL is cut as far as it goes)."""
    scheme, separator, rest = url.partition("://")
    if not separator or any(c in scheme for c in "/?#@"):
        separator, rest = "", url  # "host:11434" or "user:pw@host" (how OLLAMA_HOST may be set)
    authority = _AUTHORITY.match(rest).group()  # type: ignore[union-attr] - matches the empty string too
    userinfo, at, host = authority.rpartition("@")
    tail, _, fragment = rest[len(authority) :].partition("#")
    path, _, query = tail.partition("?")
    prefix = scheme + separator if separator else ""
    return URLParts(prefix, userinfo if at else None, host, path, query, fragment)


def display_url(url: str) -> str:
    """`url` without userinfo, query or fragment: scheme://host:port/path (scheme-less stays so)."""
    parts = url_parts(url)
    return parts.prefix + parts.host + parts.path


def display_url_or_none(url: str | None) -> str | None:
    """`display_url` for an optional setting (None and "" stay as they are)."""
    return display_url(url) if url else url


def redact(text: str) -> str:
    """`text` with every URL in it (scheme://…) in its display form."""
    return _URL_IN_TEXT.sub(lambda found: display_url(found.group()), text)
