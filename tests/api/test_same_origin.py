"""api/same_origin.py's rule on the headers a browser (or a proxy in front) sends, without a server:
what the API's own origin is, and which requests a page of another origin sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.same_origin import foreign_origin, own_origin, web_origin
from core.settings import get_settings


def scope(headers: dict[str, str], *, scheme: str = "http", host: str | None = "127.0.0.1:8000") -> dict:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    if host is not None:
        raw.append((b"host", host.encode()))
    return {"type": "http", "method": "POST", "scheme": scheme, "path": "/v1/x", "headers": raw}


@pytest.fixture
def public_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    get_settings.cache_clear()
    monkeypatch.setenv("MENTORQ_PUBLIC_URL", "https://Learn.Example.com:8443/")
    yield
    monkeypatch.delenv("MENTORQ_PUBLIC_URL")
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("HTTPS://Learn.Example.com:443/path?q", "https://learn.example.com"),
        ("http://learn.example.com:80", "http://learn.example.com"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("https://user@learn.example.com", None),
        ("ftp://learn.example.com", None),
        ("http://learn.example.com:99999", None),
        ("null", None),
    ],
)
def test_web_origin(url: str, origin: str | None) -> None:
    assert web_origin(url) == origin


def test_the_own_origin_is_the_request_scheme_and_host_with_its_port() -> None:
    assert own_origin(scope({})) == "http://127.0.0.1:8000"
    # Behind a proxy, uvicorn --proxy-headers puts X-Forwarded-Proto into the scheme.
    assert own_origin(scope({}, scheme="https", host="learn.example.com")) == "https://learn.example.com"
    assert own_origin(scope({}, host=None)) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://127.0.0.1:8001"},  # another port of the same host
        {"Origin": "https://127.0.0.1:8000"},  # another scheme
        {"Origin": "http://localhost:8000"},
        {"Origin": "null"},
        {"Origin": "garbage"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "something-new"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:8000"},
    ],
)
def test_another_origin_is_named(headers: dict[str, str]) -> None:
    assert foreign_origin(scope(headers)) is not None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://127.0.0.1:8000"},
        {"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        # The browser's verdict decides: behind a proxy that drops the port from Host, the console's
        # own pages still post (their Origin keeps the port the Host header lost).
        {"Origin": "https://learn.example.com:8443", "Sec-Fetch-Site": "same-origin"},
    ],
)
def test_the_own_origin_and_no_browser_pass(headers: dict[str, str]) -> None:
    assert foreign_origin(scope(headers)) is None


def test_the_public_url_is_the_only_own_origin_when_set(public_url: None) -> None:
    assert own_origin(scope({})) == "https://learn.example.com:8443"
    assert foreign_origin(scope({"Origin": "https://learn.example.com:8443"})) is None
    assert foreign_origin(scope({"Origin": "http://127.0.0.1:8000"})) is not None
    assert foreign_origin(scope({"Origin": "https://learn.example.com"})) is not None
