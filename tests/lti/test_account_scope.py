"""Whose users a registration reaches (issue 51, finding 1): a platform's users are reached only
through tokens its own keys signed. A second registration naming a known issuer with a key set of
its own (a rogue or misconfigured platform, by hand or by dynamic registration) gets accounts of
its own; the same platform under another client id (one key set, as Canvas registers) shares them;
a platform removed and registered again starts afresh."""

from __future__ import annotations

from tests.conftest import make_admin, register
from tests.lti.conftest import TestPlatform, new_platform, platform_process, set_up_course
from tests.lti.test_roster import session_of
from tests.support.stack import Stack


def user_of(stack: Stack, platform: TestPlatform, who: str) -> str:
    client = session_of(stack, platform, who)
    with client:
        me = client.get("/users/me")
        assert me.status_code == 200, me.text
        return me.json()["id"]


def registered(stack: Stack, platform: TestPlatform, *, tool_calls: str) -> str:
    """The platform registered by hand, its endpoints at `tool_calls`; the registration's id."""
    with register(stack.api_url) as admin:
        make_admin(stack, admin)
        created = admin.post(
            "/v1/admin/lti/platforms",
            json={
                "name": "Another registration",
                "issuer": platform.issuer,
                "client_id": platform.client_id,
                "deployment_ids": [platform.deployment_id],
                "auth_login_url": f"{tool_calls}/auth",
                "auth_token_url": f"{tool_calls}/token",
                "jwks_url": f"{tool_calls}/jwks",
            },
        )
        assert created.status_code == 201, created.text
        return created.json()["id"]


def test_a_registration_naming_a_known_issuer_with_its_own_keys_reaches_none_of_its_users(
    stack: Stack, lti_platform: TestPlatform
) -> None:
    teacher = user_of(stack, lti_platform, "teacher")
    # Platform M signs with keys of its own and says it is A (A's issuer, from another port).
    with platform_process(stack, issuer=lti_platform.issuer) as m_url:
        rogue = new_platform(m_url, public_url=lti_platform.issuer)
        set_up_course(rogue, tool_url=stack.api_url, target_link_uri=f"{stack.api_url}/lti/home")
        registered(stack, rogue, tool_calls=m_url)
        impostor = user_of(stack, rogue, "teacher")  # the same sub as A's instructor
    assert impostor != teacher


def test_the_same_platform_under_another_client_id_reaches_the_same_users(
    stack: Stack, lti_platform: TestPlatform
) -> None:
    teacher = user_of(stack, lti_platform, "teacher")
    second = new_platform(lti_platform.url)  # one platform, one key set, a second client id
    set_up_course(second, tool_url=stack.api_url, target_link_uri=f"{stack.api_url}/lti/home")
    registered(stack, second, tool_calls=lti_platform.url)
    assert user_of(stack, second, "teacher") == teacher


def test_a_platform_removed_and_registered_again_starts_afresh(stack: Stack) -> None:
    with platform_process(stack) as url:
        platform = new_platform(url)
        set_up_course(platform, tool_url=stack.api_url, target_link_uri=f"{stack.api_url}/lti/home")
        first = registered(stack, platform, tool_calls=url)
        before = user_of(stack, platform, "learner")
        with register(stack.api_url) as admin:
            make_admin(stack, admin)
            removed = admin.delete(f"/v1/admin/lti/platforms/{first}")
            assert removed.status_code in (200, 204), removed.text
        registered(stack, platform, tool_calls=url)
        assert user_of(stack, platform, "learner") != before
