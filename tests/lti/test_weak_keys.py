"""A platform's RSA keys under 2,048 bits are refused (RFC 7518 3.3; issue 59): a launch signed with
one, otherwise valid, is refused with `lti_weak_key` (403) and counted, and a registration (by hand
or dynamic) whose key set holds one is refused with the same code, nothing registered."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import make_admin
from tests.conftest import register as register_user
from tests.lti.conftest import Browser, TestPlatform, new_platform, platform_process, register, set_up_course
from tests.lti.test_launch_attacks import code_of, refusals
from tests.lti.test_registration import TOKEN, opened, registration_url
from tests.support.stack import Stack

WEAK = [512, 1024]


@pytest.fixture
def own_platform(stack: Stack) -> Iterator[TestPlatform]:
    """A platform of its own, registered with its 2,048-bit key (the tool caches each key set)."""
    with platform_process(stack) as url:
        platform = new_platform(url)
        set_up_course(platform, tool_url=stack.api_url, target_link_uri=f"{stack.api_url}/lti/home")
        platform.registration = register(stack, platform)
        yield platform


@pytest.mark.parametrize("bits", WEAK)
def test_a_launch_signed_with_a_weak_key_is_refused(
    stack: Stack, own_platform: TestPlatform, browser: Browser, bits: int
) -> None:
    own_platform.post("/test/rotate", {"bits": bits})
    before = refusals(stack, "lti_weak_key")
    refused = browser.launch(own_platform, "learner")
    assert refused.status_code == 403 and code_of(refused) == "lti_weak_key"
    assert f"{bits} bits" in refused.text
    assert "mentorq_session" not in refused.cookies
    assert refusals(stack, "lti_weak_key") == before + 1
    # The same launch signed with a key of 2,048 bits is taken: the key was all that was wrong.
    own_platform.post("/test/rotate", {})
    with httpx.Client(timeout=30) as other:
        assert Browser(other).launch(own_platform, "learner").status_code == 303


@pytest.mark.parametrize("bits", WEAK)
def test_a_platform_whose_keys_are_weak_is_not_registered_by_hand(stack: Stack, bits: int) -> None:
    with platform_process(stack) as url:
        httpx.post(f"{url}/test/rotate", json={"bits": bits})
        client_id = f"weak-{uuid.uuid4().hex[:8]}"
        with register_user(stack.api_url) as user:
            admin = make_admin(stack, user)
            refused = admin.post(
                "/v1/admin/lti/platforms",
                json={
                    "name": "Old platform",
                    "issuer": url,
                    "client_id": client_id,
                    "deployment_ids": ["1"],
                    "auth_login_url": f"{url}/auth",
                    "auth_token_url": f"{url}/token",
                    "jwks_url": f"{url}/jwks",
                },
            )
    assert refused.status_code == 422 and refused.json()["code"] == "lti_weak_key", refused.text
    assert f"({bits} bits)" in refused.json()["detail"]
    assert stack.sql("SELECT count(*) FROM lti_platforms WHERE client_id = %s", client_id) == [(0,)]


def test_a_platform_whose_keys_are_weak_is_not_registered_dynamically(stack: Stack) -> None:
    with platform_process(stack) as url:
        httpx.post(f"{url}/test/faults", json={"registration_token": TOKEN})
        httpx.post(f"{url}/test/rotate", json={"bits": 1024})
        before = stack.sql("SELECT count(*) FROM lti_platforms")
        refused = opened(registration_url(stack), url)
        assert code_of(refused) == "lti_weak_key"
        # Refused before the platform was told of this tool, and nothing registered here.
        assert httpx.get(f"{url}/test/registered").json()["registered"] == []
        assert stack.sql("SELECT count(*) FROM lti_platforms") == before
