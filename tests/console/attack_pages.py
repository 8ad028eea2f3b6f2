"""An attacker's web site for the browser tests: a real HTTP server on a loopback address of the
test's choosing that serves the HTML pages it is given (each page forges a request to the API)."""

from __future__ import annotations

import html
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from playwright.sync_api import expect

from tests.console.browsing import WAIT_MS


class AttackSite:
    """Serves `pages` (path -> HTML) on http://host:<a free port>; a `with` block runs it."""

    def __init__(self, host: str) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = pages.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                encoded = (body or "no such page").encode()
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def auto_submitted_form(action: str, fields: dict[str, str], *, file: tuple[str, str] | None = None) -> str:
    """A page that posts a form to `action` as soon as it loads (multipart when it carries a file,
    the file made in the page itself: a forged upload needs nothing from the victim's disk)."""
    inputs = "".join(
        f'<input name="{html.escape(name)}" value="{html.escape(value)}">' for name, value in fields.items()
    )
    enctype = ' enctype="multipart/form-data"' if file else ""
    attach = ""
    if file is not None:
        name, content = file
        inputs += '<input type="file" name="files" id="files">'
        attach = (
            "const files = new DataTransfer();"
            f"files.items.add(new File([{json.dumps(content)}], {json.dumps(name)}, {{type: 'text/plain'}}));"
            "document.getElementById('files').files = files.files;"
        )
    return (
        "<!doctype html><title>Win a prize</title>"
        f'<form id="forged" method="post" action="{html.escape(action)}"{enctype}>{inputs}</form>'
        f"<script>{attach}document.getElementById('forged').submit();</script>"
    )


def forged_in_the_browser(context, api_url: str, host: str, target: str, fields: dict[str, str]) -> None:
    """A page on `host` (another port of the API's host, or another site) submits `fields` to
    `target` in the admin's browser. From the same host the browser sends the console's cookies and
    the origin check answers 403 `csrf_failed`; from another site the cookies stay home and the
    console sends the browser to its sign-in. The caller then checks nothing changed."""
    with AttackSite(host) as attacker:
        attacker.pages["/forged"] = auto_submitted_form(target, fields)
        page = context.new_page()
        try:
            with page.expect_response(lambda response: response.url == target, timeout=WAIT_MS) as answer:
                page.goto(attacker.url("/forged"), wait_until="commit")
            if host == "127.0.0.1":
                assert answer.value.status == 403
                page.wait_for_url(target)
                expect(page.locator("#error-code")).to_have_text("csrf_failed", timeout=WAIT_MS)
            else:
                assert (answer.value.status, answer.value.headers["location"]) == (303, "/admin/login")
                # The sign-in page, which sends a browser still signed in on to the Overview.
                page.wait_for_url(re.compile(re.escape(api_url) + r"/admin(/login)?$"))
        finally:
            page.close()
