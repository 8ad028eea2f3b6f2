"""The LMS page on the real stack, against the test LTI platform (tests/lti/platform.py) as a
process: a registration URL made by the page's form registers the platform through the real
Dynamic Registration flow; the platform then shows with its deployment, and with its last launch
once a learner launched; a course's roster synced from the course page, its gradebook column, and
a failed roster sync and a failed grade passback listed with their codes; the platform removed
after its confirmation. Every refusal (a non-admin, a missing or wrong CSRF token, another
origin) changes nothing; in Chromium a registration URL is made and listed."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from contextlib import closing
from html import unescape

import httpx
import pytest
from playwright.sync_api import BrowserContext, expect

from tests.conftest import ApiClient
from tests.console.browsing import WAIT_MS, at_width
from tests.console.support import console_routes, console_sign_in, csrf_token, forged_posts_refused, signed_in
from tests.lti import conftest as lti
from tests.lti.conftest import Browser, platform_process
from tests.lti.test_grades import _flush_tokens, answer, exercise_id, graded_link, learner_session  # noqa: F401
from tests.lti.test_registration import TOKEN, opened
from tests.profiles.support import wait_job
from tests.support.stack import Stack, wait_until

PAGE = "/admin/lms"
REGISTER = "/admin/lms/registrations"
URL = re.compile(r'<pre id="registration-url">([^<]+)</pre>')
JOB_S = 120  # a job to run on a loaded machine


@pytest.fixture(scope="module")
def console(stack: Stack, admin: ApiClient) -> Iterator[httpx.Client]:
    response = console_sign_in(stack, admin)
    assert response.status_code == 303
    with closing(response.client) as client:
        yield client


@pytest.fixture(scope="module")
def platform_url(stack: Stack) -> Iterator[str]:
    """A test platform of this module's own (an issuer no other test registered)."""
    with platform_process(stack) as url:
        httpx.post(f"{url}/test/faults", json={"registration_token": TOKEN})
        yield url


@pytest.fixture(scope="module")
def course(stack: Stack) -> Iterator[tuple[str, str]]:
    """A platform and a course as a registration and a launch record them: what the refusal tests
    try to change."""
    platform_id, course_id = str(uuid.uuid4()), str(uuid.uuid4())
    stack.sql(
        "INSERT INTO lti_platforms (id, name, issuer, client_id, deployment_ids, auth_login_url,"
        " auth_token_url, jwks_url, accounts_key) VALUES (%s, 'Guarded LMS', %s, 'guarded', '{1}',"
        " 'https://lms.test/auth', 'https://lms.test/token', 'https://lms.test/jwks', %s)",
        platform_id,
        f"https://lms-{platform_id[:8]}.test",
        platform_id,
    )
    stack.sql(
        "INSERT INTO lti_contexts (id, platform_id, context_id, title, memberships_url)"
        " VALUES (%s, %s, %s, 'Guarded course', 'https://lms.test/memberships')",
        course_id,
        platform_id,
        f"course-{course_id[:8]}",
    )
    try:
        yield platform_id, course_id
    finally:
        stack.sql("DELETE FROM lti_platforms WHERE id = %s", platform_id)


def post(console: httpx.Client, path: str, **fields: str) -> httpx.Response:
    return console.post(path, data={"csrf_token": csrf_token(console, "/admin"), **fields})


def forms(platform_id: str, course_id: str) -> list[tuple[str, dict[str, str]]]:
    """Each form of the LMS pages as a browser would post it, less the CSRF token: each would act."""
    return [
        (REGISTER, {}),
        (f"/admin/lms/platforms/{platform_id}/remove", {"confirm": "yes"}),
        (f"/admin/lms/courses/{course_id}/roster", {}),
    ]


def state(stack: Stack, platform_id: str, course_id: str) -> tuple:
    """What the forms would change: registration codes, the platform, the course's roster jobs."""
    return (
        stack.sql("SELECT count(*) FROM lti_registration_codes"),
        stack.sql("SELECT count(*) FROM lti_platforms WHERE id = %s", platform_id),
        stack.sql(
            "SELECT count(*) FROM jobs WHERE kind = 'lti.roster' AND input->>'context_id' = %s", course_id
        ),
    )


def row_of(page: str, row_id: str) -> str:
    return page.split(f'id="{row_id}"')[1].split("</tr>")[0]


def made_url(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text[-2000:]
    found = URL.search(response.text)
    assert found, response.text[-2000:]
    return unescape(found.group(1))


def test_the_route_table_has_the_lms_pages_and_forms() -> None:
    """The access tests (test_console_access.py) try every route in this table too."""
    routes = {(method, re.sub(r"[0-9a-f-]{36}", "{id}", path)) for method, path in console_routes()}
    assert {
        ("GET", PAGE),
        ("GET", "/admin/lms/platforms/{id}/remove"),
        ("GET", "/admin/lms/courses/{id}"),
        ("POST", REGISTER),
        ("POST", "/admin/lms/platforms/{id}/remove"),
        ("POST", "/admin/lms/courses/{id}/roster"),
    } <= routes


def test_a_non_admin_is_refused_every_lms_page_and_form(
    stack: Stack, client: ApiClient, course: tuple[str, str]
) -> None:
    platform_id, course_id = course
    before = state(stack, platform_id, course_id)
    with closing(signed_in(stack, client)) as user_browser:
        token = csrf_token(user_browser)  # a valid token: refused all the same
        for path in (PAGE, f"/admin/lms/platforms/{platform_id}/remove", f"/admin/lms/courses/{course_id}"):
            response = user_browser.get(path)
            assert response.status_code == 403, path
            assert 'id="error-code">admin_only<' in response.text, path
            assert "Guarded" not in response.text
        for path, fields in forms(platform_id, course_id):
            response = user_browser.post(path, data={"csrf_token": token, **fields})
            assert response.status_code == 403, path
            assert 'id="error-code">admin_only<' in response.text, path
            assert "/lti/register/" not in response.text
    assert state(stack, platform_id, course_id) == before


def test_every_lms_form_refuses_a_missing_or_wrong_token_and_another_origin(
    stack: Stack, console: httpx.Client, course: tuple[str, str]
) -> None:
    platform_id, course_id = course
    before = state(stack, platform_id, course_id)
    token = csrf_token(console, PAGE)
    for path, fields in forms(platform_id, course_id):
        for refused in forged_posts_refused(console, token, path, fields):
            assert "/lti/register/" not in refused.text
    assert state(stack, platform_id, course_id) == before


def test_a_platform_registered_from_the_page_launches_syncs_fails_and_is_removed(
    stack: Stack,
    console: httpx.Client,
    admin: ApiClient,
    platform_url: str,
    exercise_id: str,  # noqa: F811
) -> None:
    # The page's form makes a registration URL, shown once, and lists it among the open ones.
    url = made_url(post(console, REGISTER))
    assert url.startswith(f"{stack.api_url}/lti/register/")
    code_id = hashlib.sha256(url.rsplit("/", 1)[1].encode()).hexdigest()[:12]
    listed = console.get(PAGE).text
    assert f"<code>{code_id}…</code>" in row_of(listed, f"registration-{code_id}")
    assert url not in listed  # only its digest is kept: the URL is never shown again

    # The platform opens it (the real Dynamic Registration flow) and is registered.
    done = opened(url, platform_url)
    assert done.status_code == 200, done.text
    client_id = re.search(r'id="client-id">([^<]+)<', done.text).group(1)
    [(platform_id,)] = stack.sql("SELECT id::text FROM lti_platforms WHERE client_id = %s", client_id)
    page = console.get(PAGE).text
    assert f'id="registration-{code_id}"' not in page  # used: no longer open
    row = row_of(page, f"platform-{platform_id}")
    assert f"<code>{platform_url}</code>" in row and f"<code>{client_id}</code>" in row
    assert '<td class="wrap deployments"><code>dyn-1</code></td>' in row
    assert '<td class="last-launch">—</td>' in row and "0 linked, its own" in row

    # A learner launches it from a graded link of a course: the platform shows its last launch.
    platform = lti.TestPlatform(platform_url, client_id, "dyn-1", {}, f"c-{uuid.uuid4().hex[:6]}", "")
    platform.post(
        "/test/setup",
        {
            "courses": {platform.course: {"title": "Registered from the console", "label": "CON101"}},
            "users": {
                "teacher": {"name": "Ada Teacher", "roles": {platform.course: ["Instructor"]}},
                "sam": {"name": "Sam Second", "roles": {platform.course: ["Learner"]}},
            }
            # Three pages of two: a broken link to the third fails a sync (faults: broken_next).
            | {
                f"not-yet-{n}": {"name": f"Not Yet {n}", "roles": {platform.course: ["Learner"]}}
                for n in range(3)
            },
        },
    )
    link = graded_link(stack, platform, exercise_id, "lin")
    with httpx.Client(timeout=30) as client:
        launched = Browser(client).launch(platform, "lin", link)
        assert launched.status_code == 303, launched.text
    page = console.get(PAGE).text
    row = row_of(page, f"platform-{platform_id}")
    assert '<td class="last-launch">—</td>' not in row and "1 linked, its own" in row
    [(launched_at,)] = stack.sql(
        "SELECT to_char(last_launch_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM lti_accounts"
        " a JOIN lti_platforms p ON p.accounts_key = a.accounts_key WHERE p.id = %s",
        platform_id,
    )
    assert f'<td class="last-launch">{launched_at} UTC</td>' in row
    [(course_id,)] = stack.sql(
        "SELECT id::text FROM lti_contexts WHERE platform_id = %s AND context_id = %s",
        platform_id,
        platform.course,
    )
    assert f'<a href="/admin/lms/courses/{course_id}">Registered from the console</a>' in page

    # The course page syncs the roster (an lti.roster job, as POST /v1/lti/courses/{id}/roster).
    course_page = f"/admin/lms/courses/{course_id}"
    synced = post(console, f"{course_page}/roster")
    assert synced.status_code == 303, synced.text[-2000:]
    found = re.fullmatch(rf"{course_page}\?notice=syncing&job=([0-9a-f-]{{36}})", synced.headers["location"])
    assert found, synced.headers["location"]
    job = wait_job(admin, found.group(1), timeout=JOB_S)
    assert job["status"] == "succeeded", job["error"]
    text = console.get(synced.headers["location"]).text
    assert f'<a href="/admin/jobs/{job["id"]}">' in text and "A roster sync is queued" in text
    roster = text.split('id="roster"')[1].split("</table>")[0]
    assert "Ada Teacher" in roster and "Sam Second" in roster and "Instructor" in roster
    columns = text.split('id="line-items"')[1].split("</table>")[0]
    assert "Capitals quiz" in columns and exercise_id in columns
    assert "No failed grade passback or roster sync." in text

    # A roster sync the platform breaks, and a score it refuses, are listed with their codes.
    platform.post("/test/faults", {"broken_next": True})
    try:
        broken = wait_job(
            admin, post(console, f"{course_page}/roster").headers["location"][-36:], timeout=JOB_S
        )
    finally:
        platform.post("/test/faults", {"broken_next": False})
    platform.post("/test/faults", {"refuse_tool": True})
    try:
        _flush_tokens(stack)
        with learner_session(stack, platform, "lin", link) as learner:
            submission = answer(learner, exercise_id, "Lisbon")
        wait_until(
            lambda: (
                stack.sql(
                    "SELECT status FROM jobs WHERE kind = 'lti.score' AND input->>'submission_id' = %s",
                    str(submission["submission_id"]),
                )
                == [("failed",)]
            ),
            timeout=JOB_S,
        )
    finally:
        platform.post("/test/faults", {"refuse_tool": False})
    assert broken["status"] == "failed"
    [(score_job,)] = stack.sql(
        "SELECT id::text FROM jobs WHERE kind = 'lti.score' AND input->>'submission_id' = %s",
        str(submission["submission_id"]),
    )
    text = console.get(course_page).text
    assert "<code>lti_roster_invalid</code>" in row_of(text, f"failure-{broken['id']}")
    assert "<code>lti_token_refused</code>" in row_of(text, f"failure-{score_job}")
    assert '<dd id="course-failure-count">2</dd>' in text

    # Removal asks for its box; an unknown platform is the API's 404; then it is gone.
    remove = f"/admin/lms/platforms/{platform_id}/remove"
    assert "Yes, remove the platform" in console.get(remove).text
    refused = post(console, remove)
    assert (refused.status_code, "confirmation_required" in refused.text) == (422, True)
    unknown = post(console, f"/admin/lms/platforms/{uuid.uuid4()}/remove", confirm="yes")
    assert (unknown.status_code, "lti_platform_not_found" in unknown.text) == (404, True)
    removed = post(console, remove, confirm="yes")
    assert (removed.status_code, removed.headers["location"]) == (303, "/admin/lms?notice=removed")
    assert stack.sql("SELECT count(*) FROM lti_platforms WHERE id = %s", platform_id) == [(0,)]
    after = console.get(removed.headers["location"]).text
    assert "The platform is removed" in after and f'id="platform-{platform_id}"' not in after
    assert console.get(course_page).status_code == 404  # its courses went with it


def test_make_a_registration_url_in_the_browser(
    stack: Stack, context: BrowserContext, course: tuple[str, str]
) -> None:
    page = context.new_page()
    try:
        page.goto(PAGE)
        expect(page.get_by_role("heading", name="LMS", level=1)).to_be_visible(timeout=WAIT_MS)
        expect(page.locator(f"#platform-{course[0]}")).to_contain_text("Guarded LMS")
        page.get_by_role("button", name="Make a registration URL").click()
        shown = page.locator("#registration-url")
        expect(shown).to_contain_text(f"{stack.api_url}/lti/register/", timeout=WAIT_MS)
        code = shown.inner_text().strip().rsplit("/", 1)[1]
        code_id = hashlib.sha256(code.encode()).hexdigest()[:12]
        expect(page.locator(f"#registration-{code_id}")).to_contain_text(f"{code_id}…")
        at_width(page, "lms")
        page.goto(f"/admin/lms/courses/{course[1]}")
        expect(page.get_by_role("heading", name="Course Guarded course", level=1)).to_be_visible()
        at_width(page, "lms-course")
    finally:
        page.close()
