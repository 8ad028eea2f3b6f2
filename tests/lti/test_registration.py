"""LTI Dynamic Registration: an admin's one-time URL, opened by the platform with its configuration
URL and token, registers the tool there and the platform here; a launch then works. The URL is
single use and good for nothing without its code; a platform that refuses, or a configuration
whose issuer is on another host, leaves nothing registered and the code usable."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import make_admin, register
from tests.lti.conftest import form_of, platform_process
from tests.lti.test_launch_attacks import code_of
from tests.support.stack import Stack

TOKEN = "reg-token-123"


@pytest.fixture(scope="module")
def fresh_platform(stack: Stack) -> Iterator[str]:
    """A platform of its own (an issuer no other test registered), started and stopped here."""
    with platform_process(stack) as url:
        httpx.post(f"{url}/test/faults", json={"registration_token": TOKEN})
        yield url


def registration_url(stack: Stack) -> str:
    with register(stack.api_url) as user:
        made = make_admin(stack, user).post("/v1/admin/lti/registrations")
    assert made.status_code == 201, made.text
    return made.json()["registration_url"]


def opened(url: str, platform: str, token: str | None = TOKEN, host: str | None = None) -> httpx.Response:
    configuration = f"{platform}/.well-known/openid-configuration"
    if host:
        configuration = configuration.replace("127.0.0.1", host)
    params = {"openid_configuration": configuration} | ({"registration_token": token} if token else {})
    return httpx.get(url, params=params, timeout=30)


def test_a_platform_registers_the_tool_and_launches_it(stack: Stack, fresh_platform: str) -> None:
    url = registration_url(stack)
    done = opened(url, fresh_platform)
    assert done.status_code == 200, done.text
    assert '<script src="/lti/static/close.js">' in done.text
    client_id = re.search(r'id="client-id">([^<]+)<', done.text).group(1)
    [posted] = httpx.get(f"{fresh_platform}/test/registered").json()["registered"]
    assert posted["jwks_uri"] == f"{stack.api_url}/lti/jwks"
    assert posted["initiate_login_uri"] == f"{stack.api_url}/lti/login"
    [(issuer, deployments, token_url)] = stack.sql(
        "SELECT issuer, deployment_ids, auth_token_url FROM lti_platforms WHERE client_id = %s", client_id
    )
    assert (issuer, deployments, token_url) == (fresh_platform, ["dyn-1"], f"{fresh_platform}/token")
    # The platform can launch the tool now.
    course, link = f"c-{uuid.uuid4().hex[:6]}", f"l-{uuid.uuid4().hex[:6]}"
    httpx.post(
        f"{fresh_platform}/test/setup",
        json={
            "courses": {course: {"title": "Registered course"}},
            "users": {"zoe": {"name": "Zoe", "roles": {course: ["Learner"]}}},
            "links": {
                link: {
                    "client_id": client_id,
                    "course": course,
                    "target_link_uri": f"{stack.api_url}/lti/home",
                }
            },
        },
    )
    with httpx.Client(timeout=30) as browser:
        started = browser.get(f"{fresh_platform}/launch", params={"user": "zoe", "link": link})
        login = browser.get(started.headers["location"])
        action, fields = form_of(browser.get(login.headers["location"]).text)
        launched = browser.post(action, data=fields)
        assert launched.status_code == 303, launched.text
        landed = browser.get(f"{stack.api_url}{launched.headers['location']}")
    assert "Registered course" in landed.text
    # The URL registered one platform; it registers no second one.
    again = opened(url, fresh_platform)
    assert again.status_code == 403 and code_of(again) == "lti_registration_code_unknown"


def test_a_refused_registration_leaves_nothing_and_the_url_usable(stack: Stack, fresh_platform: str) -> None:
    url = registration_url(stack)
    before = stack.sql("SELECT count(*) FROM lti_platforms")
    refused = opened(url, fresh_platform, token="wrong")
    assert code_of(refused) == "lti_registration_refused"
    assert stack.sql("SELECT count(*) FROM lti_platforms") == before
    retried = opened(url, fresh_platform)  # the code was given back: the right token registers
    assert retried.status_code == 200, retried.text


def test_a_configuration_whose_issuer_is_elsewhere_is_refused(stack: Stack, fresh_platform: str) -> None:
    """Served from `localhost`, the configuration names 127.0.0.1 as its issuer: another host."""
    refused = opened(registration_url(stack), fresh_platform, host="localhost")
    assert code_of(refused) == "lti_registration_invalid"


def test_without_a_fresh_code_nothing_is_fetched(stack: Stack, fresh_platform: str) -> None:
    """The registration URL names what the tool fetches: without a code an admin made, it fetches
    nothing (no request the caller aims, no platform registered)."""
    reads_before = httpx.get(f"{fresh_platform}/test/registered").json()["configuration_reads"]
    refused = opened(f"{stack.api_url}/lti/register/made-up-code", fresh_platform)
    assert refused.status_code == 403 and code_of(refused) == "lti_registration_code_unknown"
    assert httpx.get(f"{fresh_platform}/test/registered").json()["configuration_reads"] == reads_before
    with register(stack.api_url) as user:
        assert user.post("/v1/admin/lti/registrations").json()["code"] == "admin_only"
