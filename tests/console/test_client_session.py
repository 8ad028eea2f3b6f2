"""mentorq.client.console_session: what the demo and the console benchmark sign in with."""

from __future__ import annotations

import pytest

from mentorq.client import ApiError, console_session
from tests.conftest import ApiClient, make_admin, register
from tests.support.stack import Stack

PASSWORD = "correct-horse-battery"


def test_an_admin_gets_a_console_session(stack: Stack) -> None:
    with register(stack.api_url, password=PASSWORD) as admin:
        make_admin(stack, admin)
        with console_session(stack.api_url, admin.email, PASSWORD) as browser:
            overview = browser.get("/admin")
    assert overview.status_code == 200 and "<h1>Overview</h1>" in overview.text


def test_a_refused_sign_in_is_an_api_error(stack: Stack, client: ApiClient) -> None:
    with (
        pytest.raises(ApiError) as wrong_password,
        console_session(stack.api_url, client.email, "not-the-password"),
    ):
        pass
    assert wrong_password.value.code == "console_sign_in_refused" and wrong_password.value.status == 400
    with pytest.raises(ApiError) as not_an_admin, console_session(stack.api_url, client.email, PASSWORD):
        pass
    assert not_an_admin.value.status == 403
