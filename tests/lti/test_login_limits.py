"""The login initiation is public: what it keeps in Redis is bounded (issue 59). A field over 2,048
characters is refused with `lti_login_field_too_long` before anything is kept, by GET and by POST;
a target of exactly 2,048 characters still logs in, and its state row stays within
MAX_STATE_BYTES."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import redis

from core.lti.launch_state import MAX_STATE_BYTES, target_digest
from tests.lti.conftest import TestPlatform
from tests.lti.test_launch_attacks import code_of
from tests.support.stack import Stack

STATES = "mentorq:lti:state:*"
LIMIT = 2048


@pytest.fixture
def state_store(stack: Stack) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(stack.redis.url) as client:
        yield client


def states(store: redis.Redis) -> int:
    return sum(1 for _ in store.scan_iter(STATES, count=1000))


def own_target(stack: Stack, length: int) -> str:
    """A page of the tool, padded with a query to `length` characters."""
    start = f"{stack.api_url}/lti/home?pad="
    return start + "a" * (length - len(start))


def login(stack: Stack, platform: TestPlatform, method: str, **fields: str) -> httpx.Response:
    params = {
        "iss": platform.issuer,
        "client_id": platform.client_id,
        "login_hint": "learner",
        "target_link_uri": f"{stack.api_url}/lti/home",
        **fields,
    }
    if method == "GET" and len(fields.get("target_link_uri", "")) > 60_000:
        return raw_get(stack, f"/lti/login?{urlencode(params)}")
    with httpx.Client(timeout=60) as client:
        if method == "GET":
            return client.get(f"{stack.api_url}/lti/login", params=params)
        return client.post(f"{stack.api_url}/lti/login", data=params)


def raw_get(stack: Stack, path: str) -> httpx.Response:
    """A GET with a request line longer than httpx will send (it refuses a query over 64 KiB)."""
    parts = urlsplit(stack.api_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        request = httpx.Request("GET", f"{stack.api_url}/lti/login")
        return httpx.Response(
            answer.status, headers=answer.getheaders(), content=answer.read(), request=request
        )
    finally:
        connection.close()


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("length", [LIMIT + 1, 10_000, 1_000_000])
def test_a_target_over_2048_characters_is_refused_and_nothing_is_kept(
    stack: Stack, lti_platform: TestPlatform, state_store: redis.Redis, method: str, length: int
) -> None:
    before = states(state_store)
    refused = login(stack, lti_platform, method, target_link_uri=own_target(stack, length))
    assert refused.status_code == 400, refused.text[:300]
    if method == "GET" and length == 1_000_000:
        # A megabyte of URL never reaches the app: the HTTP server refuses the request line itself
        # (and in production nginx does first, 414).
        assert "lti_login_field_too_long" not in refused.text
    else:
        assert code_of(refused) == "lti_login_field_too_long"
    assert "mentorq_lti_state" not in refused.cookies
    assert states(state_store) == before


@pytest.mark.parametrize("field", ["iss", "client_id", "lti_deployment_id", "login_hint", "lti_message_hint"])
def test_every_other_field_over_2048_characters_is_refused(
    stack: Stack, lti_platform: TestPlatform, state_store: redis.Redis, field: str
) -> None:
    before = states(state_store)
    refused = login(stack, lti_platform, "POST", **{field: "x" * (LIMIT + 1)})
    assert refused.status_code == 400 and code_of(refused) == "lti_login_field_too_long"
    assert field in refused.text
    assert states(state_store) == before


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_target_of_2048_characters_logs_in_and_its_state_stays_small(
    stack: Stack, lti_platform: TestPlatform, state_store: redis.Redis, method: str
) -> None:
    before = states(state_store)
    target = own_target(stack, LIMIT)
    started = login(
        stack,
        lti_platform,
        method,
        target_link_uri=target,
        lti_storage_target="s" * 64,
        login_hint="h" * LIMIT,
    )
    assert started.status_code in (200, 302), started.text[:300]  # 200: the storage page first
    state = started.cookies["mentorq_lti_state"]
    assert states(state_store) == before + 1
    kept = state_store.get(f"mentorq:lti:state:{state}")
    # The target's digest, not the target: what the launch compares, and all the row needs.
    assert kept is not None and target.encode() not in kept and target_digest(target).encode() in kept
    assert len(kept) <= MAX_STATE_BYTES
    if started.status_code == 302:
        assert parse_qs(urlsplit(started.headers["location"]).query)["state"] == [state]


def test_a_target_that_is_not_plain_ascii_is_refused(
    stack: Stack, lti_platform: TestPlatform, state_store: redis.Redis
) -> None:
    """A URI is ASCII (RFC 3986): the state row's bytes are its characters, never 4 or 6 times them."""
    before = states(state_store)
    refused = login(stack, lti_platform, "POST", target_link_uri=f"{stack.api_url}/lti/home?q=" + "é" * 100)
    assert code_of(refused) == "lti_bad_target"
    assert states(state_store) == before
