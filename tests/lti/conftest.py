"""The test LTI platform (tests/lti/platform.py) as a process beside the stack, registered with the
tool, with one course, an instructor, two learners and two links; and a launch driven like a
browser: the platform's link, the tool's login, the platform's authorization, the form post."""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from typing import Any

import httpx
import pytest

from tests.conftest import ApiClient, make_admin
from tests.conftest import register as register_user
from tests.support.stack import Stack, free_port, wait_until


@dataclass
class TestPlatform:
    url: str
    client_id: str
    deployment_id: str
    registration: dict[str, Any]  # as the tool's admin API answered it
    course: str
    link: str
    public_url: str = ""  # where a browser reaches it, when a proxy is in front (its issuer then)

    @property
    def issuer(self) -> str:
        return self.public_url or self.url

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{self.url}{path}", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


@contextmanager
def platform_process(stack: Stack, *, issuer: str | None = None) -> Iterator[str]:
    """A test platform (tests/lti/platform.py) as a process of the stack; yields its loopback URL,
    which is its issuer unless `issuer` names the public URL a proxy serves it on."""
    port = free_port()
    name = f"lti-platform-{port}"
    command = [sys.executable, "-m", "tests.lti.platform", "--port", str(port)]
    stack._spawn(name, [*command, *(["--issuer", issuer] if issuer else [])])
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/jwks", timeout=1).status_code == 200, timeout=30, message=name)
        yield url
    finally:
        stack.stop(name)


@pytest.fixture(scope="module")
def lti_platform(stack: Stack) -> Iterator[TestPlatform]:
    with platform_process(stack) as url:
        platform = new_platform(url)
        set_up_course(platform, tool_url=stack.api_url, target_link_uri=f"{stack.api_url}/lti/home")
        platform.registration = register(stack, platform)
        yield platform


def new_platform(url: str, public_url: str = "") -> TestPlatform:
    """A platform's identity for this tool: a new client id, course and link names."""
    client_id, deployment_id = f"tool-{uuid.uuid4().hex[:8]}", "1"
    course, link = f"course-{uuid.uuid4().hex[:6]}", f"link-{uuid.uuid4().hex[:6]}"
    return TestPlatform(url, client_id, deployment_id, {}, course, link, public_url)


def set_up_course(platform: TestPlatform, *, tool_url: str, target_link_uri: str) -> None:
    """The tool (at `tool_url`, where browsers reach it) registered on the platform, one course with
    an instructor and two learners, and the platform's link to `target_link_uri`."""
    course, link = platform.course, platform.link
    platform.post(
        "/test/setup",
        {
            "tools": {
                platform.client_id: {
                    "login_url": f"{tool_url}/lti/login",
                    "redirect_uris": [f"{tool_url}/lti/launch"],
                    "deployment_id": platform.deployment_id,
                    "jwks_url": f"{tool_url}/lti/jwks",
                }
            },
            "courses": {course: {"title": "Cognitive Psychology 101", "label": "PSY101"}},
            "users": {
                "teacher": {
                    "name": "Ada Teacher",
                    "email": "ada@uni.example",
                    "roles": {course: ["Instructor"]},
                },
                "learner": {
                    "name": "Lin Learner",
                    "email": "lin@uni.example",
                    "roles": {course: ["Learner"]},
                },
                "learner2": {"name": "Sam Second", "roles": {course: ["Learner"]}},
            },
            "links": {
                link: {
                    "client_id": platform.client_id,
                    "course": course,
                    "title": "Week 1 quiz",
                    "target_link_uri": target_link_uri,
                }
            },
        },
    )


def register(stack: Stack, platform: TestPlatform) -> dict[str, Any]:
    with register_user(stack.api_url) as admin:
        make_admin(stack, admin)
        created = admin.post(
            "/v1/admin/lti/platforms",
            json={
                "name": "Test platform",
                "issuer": platform.issuer,
                "client_id": platform.client_id,
                "deployment_ids": [platform.deployment_id],
                # The browser signs in where it reaches the platform; the tool calls it on loopback.
                "auth_login_url": f"{platform.issuer}/auth",
                "auth_token_url": f"{platform.url}/token",
                "jwks_url": f"{platform.url}/jwks",
            },
        )
        assert created.status_code == 201, created.text
        return created.json()


FORM = re.compile(r'<form[^>]*action="([^"]+)"')
FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def form_of(page: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the platform's auto-submitting form."""
    action = FORM.search(page)
    assert action, page[:500]
    return unescape(action.group(1)), {name: unescape(value) for name, value in FIELD.findall(page)}


@dataclass
class Browser:
    """An httpx client holding cookies the way a browser of one person does, across both sites."""

    client: httpx.Client

    def login_at_tool(self, platform: TestPlatform, user: str, link: str | None = None) -> httpx.Response:
        """The course link and the tool's login initiation: ends at the platform's /auth redirect."""
        started = self.client.get(
            f"{platform.url}/launch", params={"user": user, "link": link or platform.link}
        )
        assert started.status_code == 302, started.text
        return self.client.get(started.headers["location"])

    def launch(self, platform: TestPlatform, user: str, link: str | None = None) -> httpx.Response:
        """A whole launch, up to the tool's answer to the form post."""
        login = self.login_at_tool(platform, user, link)
        assert login.status_code == 302, login.text
        authorized = self.client.get(login.headers["location"])
        assert authorized.status_code == 200, authorized.text
        action, fields = form_of(authorized.text)
        return self.client.post(action, data=fields)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with httpx.Client(timeout=30) as client:
        yield Browser(client)


def signed_in_user(
    stack: Stack, response: httpx.Response, client: httpx.Client
) -> tuple[httpx.Response, Any]:
    """Follow a launch's redirect to its landing page; the page and /users/me with its session."""
    assert response.status_code == 303, response.text
    landed = client.get(f"{stack.api_url}{response.headers['location']}")
    me = client.get(f"{stack.api_url}/users/me")
    return landed, me


__all__ = ["ApiClient", "Browser", "TestPlatform", "form_of", "signed_in_user"]
