"""LTI 1.3 launches from the test platform (tests/lti/platform.py), end to end over real HTTP: the
platform's course link, the tool's login initiation, the platform's authorization endpoint, the
signed id_token's form post, and the page the learner lands on signed in."""

from __future__ import annotations

import httpx

from tests.conftest import make_admin, register
from tests.lti.conftest import Browser, TestPlatform, signed_in_user
from tests.support.stack import Stack, wait_until

LTI_DOMAIN = "@users.lti.example"


def account_of(stack: Stack, platform: TestPlatform, subject: str) -> list[tuple]:
    return stack.sql(
        "SELECT a.user_id, a.name, a.email, u.email FROM lti_accounts a JOIN users u ON u.id = a.user_id "
        "WHERE a.issuer = %s AND a.subject = %s",
        platform.issuer,
        subject,
    )


def test_a_learner_launch_lands_signed_in_on_a_linked_account(
    stack: Stack, lti_platform: TestPlatform, browser: Browser
) -> None:
    launched = browser.launch(lti_platform, "learner")
    landed, me = signed_in_user(stack, launched, browser.client)
    assert landed.status_code == 200, landed.text
    assert "Lin Learner" in landed.text and "Cognitive Psychology 101" in landed.text
    assert '<span id="roles">Learner</span>' in landed.text
    # The landing page may be framed by the platform, and by nothing else.
    policy = landed.headers["content-security-policy"]
    assert f"frame-ancestors {lti_platform.url};" in policy
    assert me.status_code == 200, me.text
    [(user_id, name, shared_email, email)] = account_of(stack, lti_platform, "learner")
    assert me.json()["id"] == str(user_id) and name == "Lin Learner" and shared_email == "lin@uni.example"
    # The platform's e-mail is kept beside the link, never made the account's: it is not proven to us.
    assert email.endswith(LTI_DOMAIN)
    [(roles,)] = stack.sql(
        "SELECT m.roles FROM lti_memberships m JOIN lti_contexts c ON c.id = m.context_id "
        "WHERE c.context_id = %s AND m.user_id = %s",
        lti_platform.course,
        user_id,
    )
    assert roles == ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]


def test_a_second_launch_signs_in_the_same_account(
    stack: Stack, lti_platform: TestPlatform, browser: Browser
) -> None:
    first = signed_in_user(stack, browser.launch(lti_platform, "learner2"), browser.client)[1].json()["id"]
    with httpx.Client(timeout=30) as other_browser:
        again = Browser(other_browser).launch(lti_platform, "learner2")
        second = signed_in_user(stack, again, other_browser)[1].json()["id"]
    assert first == second
    assert len(account_of(stack, lti_platform, "learner2")) == 1


def test_an_account_with_the_platforms_email_is_not_taken_over(
    stack: Stack, lti_platform: TestPlatform, browser: Browser
) -> None:
    """Someone registered the platform user's e-mail here first: the launch makes its own account."""
    email = "grace@uni.example"
    lti_platform.post(
        "/test/setup",
        {"users": {"grace": {"name": "Grace", "email": email, "roles": {lti_platform.course: ["Learner"]}}}},
    )
    with register(stack.api_url, email=email) as squatter:
        launched = browser.launch(lti_platform, "grace")
        _, me = signed_in_user(stack, launched, browser.client)
        assert me.json()["id"] != squatter.user_id
        assert me.json()["email"].endswith(LTI_DOMAIN)


def test_the_landing_ticket_signs_in_once(stack: Stack, lti_platform: TestPlatform, browser: Browser) -> None:
    launched = browser.launch(lti_platform, "learner")
    assert launched.status_code == 303
    first = browser.client.get(f"{stack.api_url}{launched.headers['location']}")
    second = browser.client.get(f"{stack.api_url}{launched.headers['location']}")
    assert first.status_code == 200
    assert second.status_code == 403 and 'id="error-code">lti_ticket_unknown<' in second.text
    assert "mentorq_session" not in second.cookies


def test_a_landing_ticket_opened_in_another_browser_signs_nobody_in(
    stack: Stack, lti_platform: TestPlatform, browser: Browser
) -> None:
    """Login CSRF through the ticket: an attacker launches as themself, stops before the landing
    page and sends its URL to a victim, whose browser would be signed in to the attacker's account."""
    launched = browser.launch(lti_platform, "learner")
    assert launched.status_code == 303
    victim = httpx.get(f"{stack.api_url}{launched.headers['location']}")
    assert victim.status_code == 403 and 'id="error-code">lti_ticket_foreign<' in victim.text
    assert "mentorq_session" not in victim.cookies


def test_a_platform_that_rotated_its_key_still_launches(
    stack: Stack, lti_platform: TestPlatform, browser: Browser
) -> None:
    assert browser.launch(lti_platform, "learner").status_code == 303
    lti_platform.post("/test/rotate", {})
    with httpx.Client(timeout=30) as other_browser:
        assert Browser(other_browser).launch(lti_platform, "learner").status_code == 303


def test_the_tools_keys_and_configuration_are_published(stack: Stack, lti_platform: TestPlatform) -> None:
    keys = httpx.get(f"{stack.api_url}/lti/jwks").json()["keys"]
    assert [key["kty"] for key in keys] == ["RSA"] and keys[0]["alg"] == "RS256"
    assert "d" not in keys[0] and "p" not in keys[0]  # the public half only
    with register(stack.api_url) as user:
        assert user.get("/v1/admin/lti/tool").json()["code"] == "admin_only"
        admin = make_admin(stack, user)
        tool = admin.get("/v1/admin/lti/tool").json()
    assert tool["jwks_url"] == f"{stack.api_url}/lti/jwks"
    assert tool["redirect_uris"] == [f"{stack.api_url}/lti/launch"]
    assert tool["signing_key_ids"] == [keys[0]["kid"]]


def test_a_platform_is_registered_once_and_can_be_removed(stack: Stack, lti_platform: TestPlatform) -> None:
    with register(stack.api_url) as user:
        admin = make_admin(stack, user)
        again = dict(lti_platform.registration)
        fields = (
            "name",
            "issuer",
            "client_id",
            "deployment_ids",
            "auth_login_url",
            "auth_token_url",
            "jwks_url",
        )
        body = {name: again[name] for name in fields}
        assert admin.post("/v1/admin/lti/platforms", json=body).json()["code"] == "lti_platform_exists"
        other = admin.post("/v1/admin/lti/platforms", json={**body, "client_id": "another-client"}).json()
        listed = {item["id"] for item in admin.get("/v1/admin/lti/platforms").json()["items"]}
        assert {other["id"], lti_platform.registration["id"]} <= listed
        assert admin.delete(f"/v1/admin/lti/platforms/{other['id']}").status_code == 204
        assert (
            admin.delete(f"/v1/admin/lti/platforms/{other['id']}").json()["code"] == "lti_platform_not_found"
        )
        bad = admin.post(
            "/v1/admin/lti/platforms", json={**body, "client_id": "x", "jwks_url": "file:///etc/passwd"}
        )
        assert bad.status_code == 422


def test_a_learner_exports_their_lti_links_and_deleting_the_account_unlinks_it(
    stack: Stack, lti_platform: TestPlatform
) -> None:
    lti_platform.post(
        "/test/setup",
        {
            "users": {
                "dana": {
                    "name": "Dana",
                    "email": "dana@uni.example",
                    "roles": {lti_platform.course: ["Learner"]},
                }
            }
        },
    )
    with httpx.Client(timeout=30) as client:
        landed, me = signed_in_user(stack, Browser(client).launch(lti_platform, "dana"), client)
        token = landed.cookies["mentorq_session"]
    first_id = me.json()["id"]
    with httpx.Client(
        base_url=stack.api_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as dana:
        exported = dana.get("/api/profiles/me/export")
        assert exported.status_code == 200, exported.text
        [account] = exported.json()["lti_accounts"]
        assert (account["issuer"], account["subject"], account["email"]) == (
            lti_platform.issuer,
            "dana",
            "dana@uni.example",
        )
        assert [course["title"] for course in exported.json()["lti_courses"]] == ["Cognitive Psychology 101"]
        deletion = dana.delete("/api/profiles/me")
        assert deletion.status_code == 202, deletion.text
    wait_until(lambda: account_of(stack, lti_platform, "dana") == [], timeout=60, message="the link deleted")
    with httpx.Client(timeout=30) as client:
        _, again = signed_in_user(stack, Browser(client).launch(lti_platform, "dana"), client)
    assert again.json()["id"] != first_id  # a new account: the old one and its link are gone
