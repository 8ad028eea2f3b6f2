"""A worker host's metrics endpoint: the Celery main process serves what it and its pool's
children counted (core/metrics/processes.py adds up their files) on MENTORQ_METRICS_PORT, to a
bearer of MENTORQ_METRICS_TOKEN. Off unless both are set.

A port of its own, since a worker has no HTTP server to share; the token as on the API, so that a
port reached by mistake (a published container port, a flat network) still shows nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from core.metrics import exposition, processes
from core.settings import Settings

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Scrapes come every few seconds: not a log line each."""


def metrics_app(settings: Settings) -> Callable[[dict, StartResponse], Iterable[bytes]]:
    """The WSGI app: GET /metrics with the token, else 401 (wrong or no token) or 404 (another path)."""

    def app(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if not exposition.authorized(settings, environ.get("HTTP_AUTHORIZATION")):
            start_response(
                "401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")]
            )
            return [b"metrics need the scrape token\n"]
        body = exposition.exposition()
        start_response(
            "200 OK", [("Content-Type", exposition.CONTENT_TYPE), ("Content-Length", str(len(body)))]
        )
        return [body]

    return app


def serve(settings: Settings, *, prefork: bool) -> WSGIServer | None:
    """Start the endpoint in a daemon thread of this (the main) process, when configured."""
    if not (exposition.served(settings) and settings.metrics_port):
        return None
    if prefork and not os.environ.get(processes.VARIABLE):
        log.warning(
            "metrics: the pool's children count in their own memory and are not served here; "
            "start the worker with `mentorq worker` (or set %s to an empty folder)",
            processes.VARIABLE,
        )
    server = make_server(
        settings.metrics_address, settings.metrics_port, metrics_app(settings), _Server, handler_class=_Quiet
    )
    threading.Thread(target=server.serve_forever, name="mentorq-metrics", daemon=True).start()
    log.info("metrics served on %s:%d/metrics", settings.metrics_address, server.server_port)
    return server
