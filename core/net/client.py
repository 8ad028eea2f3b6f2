"""The one HTTP client for URLs users name (webhook receivers, documents to fetch): it connects
only to addresses the guard approved, and within one deadline.

`resolve_within` checks the URL and resolves its host once (core/net/guard.py refuses the whole
answer if any address is forbidden), bounded by the deadline even when DNS hangs. `pinned_stream`
then sends one request to one of those addresses, never to a second DNS answer: the request
names the IP, sends the original Host header and, for https, the original host as SNI (which is
also the name the certificate is verified against). It never follows a redirect; a caller that
does checks each Location through this module again.

One deadline bounds the whole exchange. httpx's timeouts bound each read, not the whole, so a
server sending one byte a second would never trip them: a watchdog shuts the socket down when the
deadline passes. Failures come out as three exceptions: `ConnectFailed` (this address refused or
was unreachable: try the next), `DeadlinePassed`, and `Broken` (the exchange broke or was malformed).
"""

from __future__ import annotations

import functools
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx

from core.net.guard import Resolver, resolve_and_check

# getaddrinfo has no timeout of its own; lookups run here so the deadline still holds when DNS hangs.
_dns_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="guarded-dns")


class ConnectFailed(Exception):
    """No connection to this address (refused, unreachable, TLS handshake or certificate refused)."""


class DeadlinePassed(Exception):
    """The deadline passed before the exchange was complete."""


class Broken(Exception):
    """The connection broke, or the answer was malformed, after the connection was made."""


def resolve_within(
    url: str, deadline: float, *, allow_private: bool, resolver: Resolver = socket.getaddrinfo
) -> list[str]:
    """The approved addresses of the URL's host. Raises the guard's `WebhookAddressError` for a refused
    URL or address, `OSError` for a failed lookup, and `concurrent.futures.TimeoutError` at the deadline."""
    remaining = max(0.0, deadline - time.monotonic())
    lookup = _dns_pool.submit(resolve_and_check, url, allow_private=allow_private, resolver=resolver)
    return lookup.result(timeout=remaining)


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process; building one loads the CA bundle, too slow to do per request."""
    return httpx.create_ssl_context()


class PinnedExchange:
    """A request in flight to a pinned address: its response, and whether the deadline cut it."""

    def __init__(self, response: httpx.Response, watchdog: _Watchdog):
        self.response = response
        self._watchdog = watchdog

    @property
    def cut_by_deadline(self) -> bool:
        """True once the watchdog shut the socket (a body ending now ended because of that)."""
        return self._watchdog.fired


@contextmanager
def pinned_stream(
    method: str,
    url: httpx.URL,
    address: str,
    *,
    deadline: float,
    headers: Mapping[str, str],
    content: bytes | None = None,
) -> Iterator[PinnedExchange]:
    """Send `method url` to `address` (an IP `resolve_within` returned) and stream the answer.

    httpx errors raised while the caller reads the body inside the block are translated too."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlinePassed()
    target = httpx.URL(scheme=url.scheme, host=address, port=url.port, raw_path=url.raw_path)
    request_headers = httpx.Headers(headers)
    request_headers["host"] = url.netloc.decode("ascii")
    watchdog = _Watchdog(deadline)
    extensions: dict[str, Any] = {"trace": watchdog.trace}
    if url.scheme == "https":
        extensions["sni_hostname"] = url.raw_host.decode("ascii")
    client = httpx.Client(
        verify=ssl_context(),
        trust_env=False,  # a proxy from the environment would bypass the address check
        follow_redirects=False,
        timeout=httpx.Timeout(remaining),
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=0),
    )
    with watchdog, client:
        try:
            with client.stream(
                method, target, content=content, headers=request_headers, extensions=extensions
            ) as response:
                yield PinnedExchange(response, watchdog)
        except httpx.TimeoutException:
            raise DeadlinePassed() from None
        except httpx.ConnectError as exc:
            if watchdog.fired:
                raise DeadlinePassed() from None
            raise ConnectFailed(str(exc) or type(exc).__name__) from None
        except httpx.HTTPError as exc:
            if watchdog.fired:
                raise DeadlinePassed() from None
            raise Broken(str(exc) or type(exc).__name__) from None


class _Watchdog:
    """Shuts the exchange's socket down at the deadline, so no server holds a worker past it.

    The socket is found through httpcore's `trace` extension and kept as a duplicate descriptor,
    which stays valid when TLS wraps (and detaches) the original socket object.
    """

    def __init__(self, deadline: float):
        self.fired = False
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._finished = False
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._finished = True
            self._timer.cancel()
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is None:
            return
        with self._lock:
            if self._finished:
                return
            self._socket = sock.dup()
            if self.fired:
                self._shutdown()

    def _fire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.fired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._socket is not None:
            try:
                self._socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the peer
