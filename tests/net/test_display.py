"""core/net/display.py and core/net/endpoint_url.py: the display form of an address, and the
credentials a client sends apart from it."""

from __future__ import annotations

import httpx
import pytest

from core.net.display import display_url, redact
from core.net.endpoint_url import EndpointURL


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:secret@gpu-box:11434/?token=T#frag", "http://gpu-box:11434/"),
        ("http://user:secret@gpu-box:8000/v1?api-key=secret#x", "http://gpu-box:8000/v1"),
        ("https://api.anthropic.com", "https://api.anthropic.com"),
        ("http://[::1]:8080/v1", "http://[::1]:8080/v1"),
        ("redis://:hunter2hunter2@redis:6379/0", "redis://redis:6379/0"),
        (
            "postgresql+psycopg://mentorq:pw@postgres:5432/mentorq?sslmode=require",
            "postgresql+psycopg://postgres:5432/mentorq",
        ),
        ("redis+socket:///tmp/redis.sock", "redis+socket:///tmp/redis.sock"),
        # An unencoded `@` in a password: the host is what follows the last one.
        ("http://user:p@ss@host:1/x", "http://host:1/x"),
        # How OLLAMA_HOST may be written: without a scheme.
        ("user:secret@gpu-box:11434", "gpu-box:11434"),
        ("gpu-box:11434", "gpu-box:11434"),
        # An `@` in the path is no userinfo; a malformed authority is still cut, never raised on.
        ("https://example.com/@someone/feed?sig=abc", "https://example.com/@someone/feed"),
        ("http://user:secret@[::1/x?token=T", "http://[::1/x"),
        ("", ""),
    ],
)
def test_the_display_form_has_no_userinfo_query_or_fragment(url: str, shown: str) -> None:
    assert display_url(url) == shown


def test_redact_shows_every_url_of_a_text_in_its_display_form() -> None:
    # httpx's own error message quotes the full URL asked for.
    request = httpx.Request("GET", "http://user:s3cr3t-pw@gpu-box:8000/v1/models?api-key=K3Y-value")
    response = httpx.Response(401, request=request)
    with pytest.raises(httpx.HTTPStatusError) as error:
        response.raise_for_status()
    message = redact(str(error.value))

    assert "for url 'http://gpu-box:8000/v1/models'" in message
    assert "s3cr3t-pw" not in message and "K3Y-value" not in message
    assert (
        redact("a http://a:b@one/x?k=1, then (https://two/y?t=2).") == "a http://one/x, then (https://two/y)."
    )
    assert redact("no address here: key=value?x=1") == "no address here: key=value?x=1"


def test_an_endpoint_url_keeps_credentials_apart_for_the_client() -> None:
    where = EndpointURL.parse("http://proxy%20user:p%40ss@gpu-box:8000/v1?api-key=K&x=1#frag")

    assert where.base == "http://gpu-box:8000/v1"
    assert where.basic_auth == ("proxy user", "p@ss")  # percent-decoded, as a URL's reader would
    assert where.query == (("api-key", "K"), ("x", "1"))
    assert where.url("models") == "http://gpu-box:8000/v1/models"
    assert where.httpx_options() == {"auth": ("proxy user", "p@ss"), "params": [("api-key", "K"), ("x", "1")]}
    assert where.authorization == httpx.BasicAuth("proxy user", "p@ss")._auth_header

    plain = EndpointURL.parse("https://api.anthropic.com")
    assert (plain.base, plain.basic_auth, plain.query, plain.httpx_options()) == (
        "https://api.anthropic.com",
        None,
        (),
        {},
    )
    assert plain.default_query() is None and plain.authorization is None
