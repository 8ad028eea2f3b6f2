"""An LTI account has no password hash (issue 59): a launch made one with Argon2id on the API's event
loop, about 200 ms of every launch during which the API served nobody else. It stores a marker no
password matches instead: no password signs in to it, with the ordinary bad-credentials answer,
and a reset (a token from account mail) still gives it a password."""

from __future__ import annotations

import httpx

from core.account_tokens import reset_token
from core.passwords import LTI_LAUNCH_ONLY
from core.settings import get_settings
from db.system import SYSTEM_EMAIL, SYSTEM_USER_ID
from tests.lti.conftest import Browser, TestPlatform, signed_in_user
from tests.support.stack import Stack


def password_login(stack: Stack, email: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{stack.api_url}/auth/jwt/login", data={"username": email, "password": password}, timeout=30
    )


def test_an_lti_account_stores_no_hash_and_no_password_signs_in_to_it(
    stack: Stack, lti_platform: TestPlatform, browser: Browser
) -> None:
    _, me = signed_in_user(stack, browser.launch(lti_platform, "learner2"), browser.client)
    user_id, email = me.json()["id"], me.json()["email"]
    assert stack.sql("SELECT hashed_password FROM users WHERE id = %s", user_id) == [(LTI_LAUNCH_ONLY,)]
    for password in (LTI_LAUNCH_ONLY, "correct-horse-battery", "!"):
        refused = password_login(stack, email, password)
        assert refused.status_code == 400 and refused.json()["code"] == "login_bad_credentials", refused.text
    # The platform's own account stores "!": refused the same way (it used to be a 500).
    stack.sql(
        "INSERT INTO users (id, email, hashed_password, is_active, is_superuser, is_verified) "
        "VALUES (%s, %s, '!', false, false, true) ON CONFLICT DO NOTHING",
        SYSTEM_USER_ID,
        SYSTEM_EMAIL,
    )
    refused = password_login(stack, SYSTEM_EMAIL, "correct-horse-battery")
    assert refused.status_code == 400 and refused.json()["code"] == "login_bad_credentials", refused.text


def test_a_reset_gives_an_lti_account_a_password(
    on_the_stack: Stack, lti_platform: TestPlatform, browser: Browser
) -> None:
    stack = on_the_stack
    _, me = signed_in_user(stack, browser.launch(lti_platform, "teacher"), browser.client)
    user_id, email = me.json()["id"], me.json()["email"]
    token = reset_token(get_settings(), user_id=user_id, hashed_password=LTI_LAUNCH_ONLY)
    reset = httpx.post(
        f"{stack.api_url}/auth/reset-password", json={"token": token, "password": "a-brand-new-passphrase"}
    )
    assert reset.status_code == 200, reset.text
    assert password_login(stack, email, "a-brand-new-passphrase").status_code == 200
