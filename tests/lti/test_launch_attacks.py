"""Forged and replayed launches against the real tool, each refused with its stable code on the
error page, and counted in the metrics (`mentorq_lti_launches_total{outcome=...}`).

Each attack starts a real login (so it holds a real state and nonce, as an attacker in the middle
would) and then posts an id_token it made: signed by the platform's own key where the attack is
in the claims, by another key or none where it is in the signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.lti.conftest import Browser, TestPlatform, form_of
from tests.support.stack import METRICS_TOKEN, Stack

LTI = "https://purl.imsglobal.org/spec/lti/claim/"


def started_login(browser: Browser, platform: TestPlatform, user: str = "learner") -> dict[str, str]:
    """A real login initiation: the state and nonce the tool sent to the platform's /auth."""
    login = browser.login_at_tool(platform, user)
    assert login.status_code == 302, login.text
    query = parse_qs(urlsplit(login.headers["location"]).query)
    return {"state": query["state"][0], "nonce": query["nonce"][0]}


def genuine_claims(platform: TestPlatform, nonce: str, user: str = "learner") -> dict[str, Any]:
    return platform.post(
        "/test/claims", {"client_id": platform.client_id, "user": user, "link": platform.link, "nonce": nonce}
    )


def platform_signed(platform: TestPlatform, claims: dict[str, Any]) -> str:
    return platform.post("/test/sign", {"claims": claims})["id_token"]


def post_launch(stack: Stack, browser: Browser, id_token: str, state: str) -> httpx.Response:
    return browser.client.post(f"{stack.api_url}/lti/launch", data={"id_token": id_token, "state": state})


def code_of(page: httpx.Response) -> str:
    found = re.search(r'id="error-code">([a-z_]+)<', page.text)
    assert found, page.text[:300]
    return found.group(1)


def refusals(stack: Stack, code: str) -> float:
    metrics = httpx.get(f"{stack.api_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    found = re.search(rf'^mentorq_lti_launches_total\{{outcome="{code}"\}} (\S+)$', metrics.text, re.M)
    return float(found.group(1)) if found else 0.0


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def platform_kid(platform: TestPlatform) -> str:
    return httpx.get(f"{platform.url}/jwks").json()["keys"][0]["kid"]


def signed_by_another_key(platform: TestPlatform, claims: dict[str, Any]) -> str:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, other, algorithm="RS256", headers={"kid": platform_kid(platform)})


def unsigned(platform: TestPlatform, claims: dict[str, Any]) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': platform_kid(platform)})}.{_b64(claims)}."


def hmac_with_the_public_key(platform: TestPlatform, claims: dict[str, Any]) -> str:
    """The algorithm-confusion attack: HS256 keyed with the platform's public key, which anyone has."""
    jwk = httpx.get(f"{platform.url}/jwks").json()["keys"][0]
    pem = jwt.PyJWK.from_dict(jwk).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": jwk["kid"]})
    body = _b64(claims)
    signature = hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def changed(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(claims: dict[str, Any]) -> dict[str, Any]:
        return {**claims, **changes}

    return change


FORGERIES: dict[str, tuple[Callable, Callable[[TestPlatform, dict[str, Any]], str], str]] = {
    "another key": (changed(), signed_by_another_key, "lti_bad_signature"),
    "alg none": (changed(), unsigned, "lti_bad_algorithm"),
    "HS256 keyed with the public key": (changed(), hmac_with_the_public_key, "lti_bad_algorithm"),
    "another platform's issuer": (changed(iss="https://evil.example"), platform_signed, "lti_wrong_issuer"),
    "another tool's audience": (changed(aud="someone-else"), platform_signed, "lti_wrong_audience"),
    "an unregistered deployment": (
        changed(**{LTI + "deployment_id": "999"}),
        platform_signed,
        "lti_unknown_deployment",
    ),
    "expired": (
        changed(iat=int(time.time()) - 900, exp=int(time.time()) - 600),
        platform_signed,
        "lti_token_expired",
    ),
    "another nonce": (changed(nonce="chosen-by-the-attacker"), platform_signed, "lti_nonce_mismatch"),
    "another target": (
        changed(**{LTI + "target_link_uri": "https://evil.example/"}),
        platform_signed,
        "lti_target_mismatch",
    ),
    "LTI 1.1 version": (changed(**{LTI + "version": "1.1"}), platform_signed, "lti_bad_version"),
    "no subject": (changed(sub=""), platform_signed, "lti_anonymous_launch"),
}


@pytest.mark.parametrize("attack", FORGERIES, ids=list(FORGERIES))
def test_a_forged_id_token_is_refused_with_its_code_and_counted(
    stack: Stack, lti_platform: TestPlatform, browser: Browser, attack: str
) -> None:
    change, sign, code = FORGERIES[attack]
    before = refusals(stack, code)
    login = started_login(browser, lti_platform)
    token = sign(lti_platform, change(genuine_claims(lti_platform, login["nonce"])))
    refused = post_launch(stack, browser, token, login["state"])
    assert refused.status_code in (400, 403), refused.text
    assert code_of(refused) == code
    assert "mentorq_session" not in refused.cookies
    assert refusals(stack, code) == before + 1


def test_a_replayed_launch_form_is_refused(
    stack: Stack, lti_platform: TestPlatform, browser: Browser
) -> None:
    login = browser.login_at_tool(lti_platform, "learner")
    authorized = browser.client.get(login.headers["location"])
    action, fields = form_of(authorized.text)
    assert browser.client.post(action, data=fields).status_code == 303
    replayed = browser.client.post(action, data=fields)
    assert code_of(replayed) == "lti_state_unknown"
    # The captured id_token with a state of its own: the nonce it carries is not that login's.
    fresh = started_login(browser, lti_platform)
    assert code_of(post_launch(stack, browser, fields["id_token"], fresh["state"])) == "lti_nonce_mismatch"


def test_a_launch_form_posted_from_another_browser_is_refused(
    stack: Stack, lti_platform: TestPlatform, browser: Browser
) -> None:
    """Login CSRF: the attacker's own valid launch, posted by the victim's browser, which never
    started that login, has no state cookie for it."""
    login = browser.login_at_tool(lti_platform, "learner")
    action, fields = form_of(browser.client.get(login.headers["location"]).text)
    with httpx.Client(timeout=30) as victim:
        refused = victim.post(action, data=fields)
    assert code_of(refused) == "lti_state_mismatch"


def test_a_login_for_an_unknown_platform_or_a_foreign_target_is_refused(
    stack: Stack, lti_platform: TestPlatform
) -> None:
    unknown = httpx.get(
        f"{stack.api_url}/lti/login",
        params={
            "iss": "https://unknown.example",
            "login_hint": "x",
            "target_link_uri": f"{stack.api_url}/lti/home",
        },
    )
    assert unknown.status_code == 404 and code_of(unknown) == "lti_unknown_platform"
    foreign = httpx.get(
        f"{stack.api_url}/lti/login",
        params={
            "iss": lti_platform.issuer,
            "login_hint": "x",
            "target_link_uri": "https://evil.example/steal",
        },
    )
    assert code_of(foreign) == "lti_bad_target"
    assert "mentorq_lti_state" not in foreign.cookies
