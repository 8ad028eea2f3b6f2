"""Fetch a document from a URL for `POST /v1/documents/url`, through the platform's guarded client.

Every hop (the URL, then each redirect's Location) is checked by the network guard before any
connection: the syntax check first (scheme, literal forbidden addresses), then one DNS lookup whose
answers must all be allowed. The request goes to an address that lookup returned, never to a second
DNS answer (core/net/client.py). Redirects are followed here, by hand, so each Location gets the
same checks; the client never follows one itself.

One deadline bounds the whole fetch (every lookup, connect, TLS handshake and read, across all
hops), so a server that drips its answer a byte at a time is cut too. The body is read as a stream
and refused once it passes `max_bytes` (at once when Content-Length says so), decoded gzip/deflate
included, so a compressed bomb is cut as well.

Whatever goes wrong on the network or in the answer comes out as a `DocumentError` whose code says
what (see ERROR_STATUS): url_forbidden, url_unreachable, url_timeout, url_not_found, url_http_error,
url_too_large, url_redirect_loop.
"""

from __future__ import annotations

import email.message
import re
import socket
import time
import zlib
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import httpx

from core.documents.errors import DocumentError
from core.net.client import Broken, ConnectFailed, DeadlinePassed, pinned_stream, resolve_within
from core.net.guard import Resolver, WebhookAddressError, check_url_syntax
from core.settings import Settings

ACCEPT = (
    "text/html, text/plain, text/markdown, application/pdf, "
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document, "
    "text/vtt, application/x-subrip, */*;q=0.1"
)
USER_AGENT = "mentorq-ingest/1"
DEFAULT_TIMEOUT_S = 15.0
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 3

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_FILENAME_JUNK = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class FetchedDocument:
    """A fetched body, what the server said it is, where it finally came from, and a file name if any."""

    content: bytes
    content_type: str | None
    final_url: str
    filename: str | None


def fetch_url(
    url: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allow_private: bool,
    allow_http: bool = True,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    resolver: Resolver = socket.getaddrinfo,
) -> FetchedDocument:
    """GET `url` (following up to `max_redirects` checked redirects) within `timeout_s` overall.

    `allow_private` lets hops reach loopback and private addresses (development and tests only);
    `allow_http` allows plain http besides https. Raises `DocumentError` for every network or HTTP
    problem, never anything else.
    """
    deadline = time.monotonic() + timeout_s
    current = url
    visited: set[str] = set()
    redirects = 0
    while True:
        parsed, addresses = _check_hop(
            current,
            deadline,
            timeout_s,
            allow_private=allow_private,
            allow_http=allow_http,
            resolver=resolver,
            redirected=redirects > 0,
        )
        visited.add(_without_fragment(parsed))
        answer = _get_from_any(parsed, addresses, deadline, timeout_s, max_bytes)
        if answer.status in _REDIRECT_STATUSES and answer.location is not None:
            target = _join(parsed, answer.location, answer.status)
            if _without_fragment(target) in visited:
                raise DocumentError(
                    "url_redirect_loop",
                    f"{_show(current)} redirects (HTTP {answer.status}) back to {_show(str(target))}, "
                    "which was already visited",
                )
            if redirects >= max_redirects:
                raise DocumentError(
                    "url_redirect_loop",
                    f"more than {max_redirects} redirects starting at {_show(url)}; "
                    f"the last one pointed at {_show(str(target))}",
                )
            redirects += 1
            current = str(target)
            continue
        if answer.status in (404, 410):
            raise DocumentError(
                "url_not_found", f"{_show(current)} answered HTTP {answer.status}: no document there"
            )
        if not 200 <= answer.status < 300:
            detail = " without a Location" if answer.status in _REDIRECT_STATUSES else ""
            raise DocumentError("url_http_error", f"{_show(current)} answered HTTP {answer.status}{detail}")
        assert answer.body is not None
        return FetchedDocument(
            content=answer.body,
            content_type=(answer.headers.get("content-type") or "").strip() or None,
            final_url=current,
            filename=_filename(answer.headers, parsed),
        )


def fetch_with_settings(url: str, settings: Settings) -> FetchedDocument:
    """`fetch_url` as the platform fetches a document (a URL document, a source's listing and its
    items): http or https, MENTORQ_FETCH_ALLOW_PRIVATE, MENTORQ_MAX_DOCUMENT_BYTES and
    MENTORQ_FETCH_TIMEOUT_SECONDS."""
    return fetch_url(
        url,
        allow_private=settings.fetch_allow_private,
        allow_http=True,
        max_bytes=settings.max_document_bytes,
        timeout_s=settings.fetch_timeout_seconds,
    )


# --- one hop ---------------------------------------------------------------------------------------


@dataclass
class _Answer:
    status: int
    headers: httpx.Headers
    location: str | None
    body: bytes | None  # read for 2xx answers only


def _check_hop(
    url: str,
    deadline: float,
    timeout_s: float,
    *,
    allow_private: bool,
    allow_http: bool,
    resolver: Resolver,
    redirected: bool,
) -> tuple[httpx.URL, list[str]]:
    """The parsed URL and the addresses it may be fetched from; refuses before any connection."""
    what = "redirect target" if redirected else "URL"
    try:
        check_url_syntax(url, allow_http=allow_http, allow_private=allow_private)
        parsed = httpx.URL(url)
        if time.monotonic() >= deadline:
            raise FutureTimeout()
        addresses = resolve_within(url, deadline, allow_private=allow_private, resolver=resolver)
    except WebhookAddressError as exc:
        raise DocumentError("url_forbidden", f"{what} {_show(url)} refused: {_guard_message(exc)}") from None
    except FutureTimeout:  # before OSError: in Python 3.11 this is the builtin TimeoutError, an OSError
        raise DocumentError(
            "url_timeout", f"DNS lookup for {_show(url)} did not finish within {timeout_s:g} s"
        ) from None
    except OSError as exc:
        raise DocumentError("url_unreachable", f"could not resolve the host of {_show(url)}: {exc}") from None
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        raise DocumentError(
            "url_forbidden", f"{what} {_show(url)} refused: it does not parse ({exc})"
        ) from None
    return parsed, addresses


def _get_from_any(
    parsed: httpx.URL, addresses: list[str], deadline: float, timeout_s: float, max_bytes: int
) -> _Answer:
    """GET from the first address that takes the connection."""
    failures: list[str] = []
    for address in addresses:
        try:
            return _request(parsed, address, deadline, timeout_s, max_bytes)
        except ConnectFailed as exc:
            failures.append(f"{address}: {exc}")
    if time.monotonic() >= deadline:
        raise DocumentError("url_timeout", f"no connection to {_show(str(parsed))} within {timeout_s:g} s")
    raise DocumentError(
        "url_unreachable", f"could not connect to {_show(str(parsed))}: " + "; ".join(failures)
    )


def _request(parsed: httpx.URL, address: str, deadline: float, timeout_s: float, max_bytes: int) -> _Answer:
    """One GET to `address` (the pinned IP); the body is read, capped, only for a 2xx answer."""
    timed_out = DocumentError(
        "url_timeout", f"no complete answer from {_show(str(parsed))} within {timeout_s:g} s"
    )
    headers = {
        "accept": ACCEPT,
        "user-agent": USER_AGENT,
        # Compressed answers are still decoded below, within the cap, if a server sends one anyway.
        "accept-encoding": "identity",
    }
    try:
        with pinned_stream("GET", parsed, address, deadline=deadline, headers=headers) as exchange:
            response = exchange.response
            status = response.status_code
            answer = _Answer(status, response.headers, response.headers.get("location"), None)
            if 200 <= status < 300:
                answer.body = _read_body(response, parsed, max_bytes, deadline)
                if (
                    exchange.cut_by_deadline
                ):  # a body without Content-Length ends at EOF, which the cut also is
                    raise timed_out
            return answer
    except DeadlinePassed:
        raise timed_out from None
    except Broken as exc:  # broken connection, malformed answer
        raise DocumentError("url_http_error", f"{_show(str(parsed))} sent a broken answer: {exc}") from None


def _read_body(response: httpx.Response, parsed: httpx.URL, max_bytes: int, deadline: float) -> bytes:
    """The decoded body, refused as soon as it is known to be over `max_bytes`."""
    too_large = DocumentError(
        "url_too_large", f"{_show(str(parsed))} sent more than {max_bytes} bytes, the limit"
    )
    declared = response.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise DocumentError(
            "url_too_large",
            f"{_show(str(parsed))} announces {int(declared)} bytes (Content-Length), "
            f"over the {max_bytes}-byte limit",
        )
    decoder = _Decoder(response.headers.get("content-encoding"), parsed)
    body = bytearray()
    for chunk in response.iter_raw():
        body += decoder.decode(chunk, max_bytes - len(body), too_large)
        if len(body) > max_bytes:
            raise too_large
        if time.monotonic() >= deadline:
            raise DocumentError("url_timeout", f"{_show(str(parsed))} did not finish its answer in time")
    body += decoder.flush(max_bytes - len(body), too_large)
    return bytes(body)


class _Decoder:
    """Content-Encoding gzip/deflate decoded incrementally, never producing more than the room left."""

    def __init__(self, encoding: str | None, parsed: httpx.URL):
        self._parsed = parsed
        name = (encoding or "identity").strip().lower()
        if name in ("", "identity"):
            self._zlib = None
        elif name in ("gzip", "x-gzip", "deflate"):
            self._zlib = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib header, detected
        else:
            raise DocumentError(
                "url_http_error", f"{_show(str(parsed))} sent an unsupported Content-Encoding {encoding!r}"
            )

    def decode(self, data: bytes, room: int, too_large: DocumentError) -> bytes:
        if self._zlib is None:
            return data
        try:
            out = self._zlib.decompress(data, max(room, 0) + 1)
        except zlib.error as exc:
            raise self._corrupt(exc) from None
        if len(out) > room or self._zlib.unconsumed_tail:
            raise too_large
        return out

    def flush(self, room: int, too_large: DocumentError) -> bytes:
        if self._zlib is None:
            return b""
        try:
            out = self._zlib.flush()
        except zlib.error as exc:
            raise self._corrupt(exc) from None
        if len(out) > room:
            raise too_large
        return out

    def _corrupt(self, exc: zlib.error) -> DocumentError:
        return DocumentError(
            "url_http_error", f"{_show(str(self._parsed))} sent a body that does not decompress: {exc}"
        )


# --- small helpers -----------------------------------------------------------------------------------


def _join(base: httpx.URL, location: str, status: int) -> httpx.URL:
    try:
        return base.join(location.strip())
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        raise DocumentError(
            "url_http_error",
            f"{_show(str(base))} redirects (HTTP {status}) to an invalid Location {location!r}: {exc}",
        ) from None


def _without_fragment(url: httpx.URL) -> str:
    return str(url.copy_with(fragment=None))


def _filename(headers: httpx.Headers, final: httpx.URL) -> str | None:
    """The name Content-Disposition gives (`filename*` included), else the URL path's last segment."""
    disposition = headers.get("content-disposition")
    if disposition:
        message = email.message.Message()
        message["content-disposition"] = disposition
        try:
            name = _clean_filename(message.get_filename())
        except (ValueError, LookupError, TypeError):
            name = None
        if name:
            return name
    return _clean_filename(final.path.rsplit("/", 1)[-1])  # httpx's `path` is percent-decoded


def _clean_filename(name: str | None) -> str | None:
    """A bare file name: no directories, no control characters; None when nothing is left."""
    if not name:
        return None
    name = _FILENAME_JUNK.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if name in ("", ".", ".."):
        return None
    return name[:255]


def _guard_message(exc: WebhookAddressError) -> str:
    """The SSRF guard's reason, without the webhook wording it was written with."""
    return exc.message.replace("webhook URLs", "URLs").replace("the webhook URL", "the URL")


def _show(url: str) -> str:
    """A URL for an error message: quoted, and cut when very long."""
    text = url if isinstance(url, str) else repr(url)
    return repr(text if len(text) <= 200 else text[:200] + "...")
