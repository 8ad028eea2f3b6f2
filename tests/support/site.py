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
        self.endless: dict[str, tuple[int, str]] = {}  # path -> (bytes claimed, content type)
        self.sent: Counter[str] = Counter()  # bytes an endless path sent before the client hung up
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?", 1)[0]
                with site._lock:
                    site.hits[path] += 1
                    answer = site.answers.get(path, Answer(404, b"not here", {}))
                if path in site.endless:
                    self._send_endless(path)
                    return
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

            def _send_endless(self, path: str) -> None:
                claimed, content_type = site.endless[path]
                chunk = bytes(64 * 1024)
                try:
                    self.send_response(200)
                    self.send_header("content-type", content_type)
                    self.send_header("content-length", str(claimed))
                    self.end_headers()
                    while site.sent[path] < claimed:
                        self.wfile.write(chunk)
                        site.sent[path] += len(chunk)
                except OSError:  # the client hung up: what the test wants to see
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

    def podcast(self, path: str, episodes: list[tuple[str, str, str]]) -> str:
        """An RSS 2.0 feed of episodes: (title, enclosure URL, its media type), each with a page link."""
        items = "".join(
            f"<item><title>{title}</title><link>{self.url(f'/episode/{i}')}</link>"
            f'<enclosure url="{enclosure}" type="{media_type}" length="0"/></item>'
            for i, (title, enclosure, media_type) in enumerate(episodes)
        )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>podcast</title><link>{self.url('/')}</link><description>d</description>{items}"
            "</channel></rss>"
        )
        return self.page(path, body, "application/rss+xml")

    def endless_file(self, path: str, *, claimed_bytes: int, content_type: str) -> str:
        """A path that says it sends `claimed_bytes` and sends zeros until the client hangs up."""
        with self._lock:
            self.endless[path] = (claimed_bytes, content_type)
        return self.url(path)

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
