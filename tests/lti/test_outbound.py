"""The tool's calls to a platform go through the pinned client (core/lti/outbound.py; issue 51,
finding 4): one deadline for the whole call however slowly the platform sends, a body cap enforced
while reading, and every address checked on the one DNS answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from core.lti.errors import LtiError
from core.lti.outbound import call
from core.settings import get_settings
from tests.support.fake_server import serve_in_thread

BIG = 8 * 1024 * 1024


class Platform(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):  # a byte every 0.3 s: no single read ever times out
                self.wfile.write(b"{")
                self.wfile.flush()
                time.sleep(0.3)
            return
        body = b'{"ok": true}' if self.path == "/ok" else b"[" * BIG
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the tool stopped reading at its cap

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def platform(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch_module.setenv("MENTORQ_LTI_ALLOW_PRIVATE", "true")  # the fake platform is on loopback
    get_settings.cache_clear()
    server = serve_in_thread(Platform)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def fetch(url: str, **options) -> object:
    defaults = {"what": "JWKS URL", "unavailable": "lti_platform_keys_unavailable", "deadline_s": 2.0}
    return call("GET", url, **{**defaults, "max_bytes": 256 * 1024, **options})


def test_a_platform_that_answers_is_read(platform: str) -> None:
    answer = fetch(f"{platform}/ok")
    assert answer.status == 200 and answer.json_object() == {"ok": True} and not answer.too_large


def test_a_platform_sending_a_byte_at_a_time_is_cut_at_the_deadline(platform: str) -> None:
    started = time.monotonic()
    with pytest.raises(LtiError) as refused:
        fetch(f"{platform}/slow", deadline_s=1.5)
    assert refused.value.code == "lti_platform_keys_unavailable" and refused.value.status == 502
    assert time.monotonic() - started < 4  # not the 30 s the platform would take


def test_an_answer_over_the_cap_is_not_read_past_it(platform: str) -> None:
    answer = fetch(f"{platform}/big")
    assert answer.too_large and len(answer.body) == 256 * 1024
    assert answer.json_object() is None  # and nested brackets are never parsed into a crash


@pytest.mark.parametrize("url", ["http://169.254.169.254/jwks", "file:///etc/passwd"])
def test_an_address_the_tool_must_never_call_is_refused(url: str) -> None:
    with pytest.raises(LtiError) as refused:
        fetch(url)
    assert refused.value.code == "lti_url_forbidden"
