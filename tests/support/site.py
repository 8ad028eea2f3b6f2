"""A web site on 127.0.0.1 for source tests: pages, feeds and sitemaps that a test changes between
runs, redirects, and a count of the requests each path got."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from tests.support.fake_server import serve_in_thread


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


class Site:
    """`page`, `redirect` and `remove` edit what a path answers; `hits` counts requests per path."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.hits: Counter[str] = Counter()
        self.release = threading.Event()
        self.hold: set[str] = set()  # paths that wait for `release` before answering
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?", 1)[0]
                with site._lock:
                    site.hits[path] += 1
                    answer = site.answers.get(path, Answer(404, b"not here", {}))
                if path in site.hold:
                    site.release.wait(30)
                try:
                    self.send_response(answer.status)
                    self.send_header("content-length", str(len(answer.body)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self._server = serve_in_thread(Handler)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def page(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8") -> str:
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self.answers[path] = Answer(200, data, {"content-type": content_type})
        return self.url(path)

    def status(self, path: str, status: int) -> str:
        with self._lock:
            self.answers[path] = Answer(status, b"error", {"content-type": "text/plain"})
        return self.url(path)

    def redirect(self, path: str, location: str) -> str:
        with self._lock:
            self.answers[path] = Answer(302, b"", {"location": location})
        return self.url(path)

    def remove(self, path: str) -> None:
        with self._lock:
            self.answers.pop(path, None)

    def feed(self, path: str, links: list[str]) -> str:
        """An RSS 2.0 feed whose entries link to `links`."""
        items = "".join(
            f"<item><title>entry {i}</title><link>{link}</link></item>" for i, link in enumerate(links)
        )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>feed</title><link>{self.url('/')}</link><description>d</description>{items}"
            "</channel></rss>"
        )
        return self.page(path, body, "application/rss+xml")

    def sitemap(self, path: str, locations: list[str], *, index: bool = False) -> str:
        entry = "sitemap" if index else "url"
        root = "sitemapindex" if index else "urlset"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<{root} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<{entry}><loc>{location}</loc></{entry}>" for location in locations)
            + f"</{root}>"
        )
        return self.page(path, body, "application/xml")

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


def html(title: str, text: str) -> str:
    head = f"<!doctype html><html><head><title>{title}</title></head>"
    return f"{head}<body><h1>{title}</h1><p>{text}</p></body></html>"
