"""A fast webhook receiver for benchmarks: answers every POST 200 at once and keeps count per path.

    python -m benchmarks._webhook_receiver --port N

Threaded (one thread per connection), HTTP/1.1 with keep-alive, on 127.0.0.1 only. Per path it
records the arrival time of each POST (time.monotonic(): CLOCK_MONOTONIC, one clock for every
process on the host), its webhook-id, and (for paths under /keep/) the headers and body, so the
benchmark can verify signatures afterwards.

    GET /stats        {path: {"count", "first", "last", "unique_ids"}}
    GET /dump?path=P  [{"headers": {...}, "body": "..."}] for a /keep/ path
    POST /reset       forget everything
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.paths: dict[str, dict] = {}
        self.kept: dict[str, list[dict]] = {}


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        now = time.monotonic()
        path = urlsplit(self.path).path
        if path == "/reset":
            with STATE.lock:
                STATE.reset()
            self._answer(200, b"ok")
            return
        webhook_id = self.headers.get("webhook-id")
        with STATE.lock:
            entry = STATE.paths.setdefault(path, {"count": 0, "first": now, "last": now, "ids": set()})
            entry["count"] += 1
            entry["last"] = now
            entry["ids"].add(webhook_id)
            if path.startswith("/keep/"):
                STATE.kept.setdefault(path, []).append({"headers": dict(self.headers), "body": body.decode()})
        self._answer(200, b"ok")

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        with STATE.lock:
            if parts.path == "/stats":
                payload = {
                    path: {
                        "count": e["count"],
                        "first": e["first"],
                        "last": e["last"],
                        "unique_ids": len(e["ids"]),
                    }
                    for path, e in STATE.paths.items()
                }
            elif parts.path == "/dump":
                payload = STATE.kept.get(parse_qs(parts.query).get("path", [""])[0], [])
            else:
                self._answer(404, b"not found")
                return
        self._answer(200, json.dumps(payload).encode(), "application/json")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    print(f"READY http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
