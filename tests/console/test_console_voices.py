"""The Voices page on the real stack: profiles listed by scope (inserted as rows, as an enrolment's
worker stores them, where the test is not about enrolment) with their encoder, clip count and
re-enrolment mark, as an API whose diarizer is CAM++ reads them; the enrol form posting a real clip
into a queued `voice.enrol` job, the re-embed button a `voice.reembed` job, export and delete; every
refusal (a non-admin, a missing or wrong CSRF token, another origin) changing nothing; and a
profile deleted in Chromium."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import ApiClient
from tests.console.browsing import DESKTOP, WAIT_MS, at_width, sign_in
from tests.console.support import console_routes, console_sign_in, csrf_token, forged_posts_refused, signed_in
from tests.support.stack import Stack
from tests.voices.test_campplus_voices import CAMPPLUS
from tests.voices.test_course_voices import course_clip
from tests.voices.test_voice_profiles import clip

PAGE = "/admin/voices"
ENROL = "/admin/voices/enrol"
REEMBED = "/admin/voices/reembed"
TAG = uuid.uuid4().hex[:6]  # in every name this module gives a profile: its teardown deletes them
COURSE_TITLE = f"Voices console {TAG}"
VOICE_KINDS = ("voice.enrol", "voice.reembed")


def add_profile(
    stack: Stack, name: str, *, encoder: str = "resemblyzer", clips: int = 1, course_id: str | None = None
) -> str:
    """A profile row with its clips' rows, as a `voice.enrol` job stores them."""
    profile_id = str(uuid.uuid4())
    stack.sql(
        "INSERT INTO voice_profiles (id, name, role, encoder, course_id) VALUES (%s, %s, 'host', %s, %s)",
        profile_id,
        f"{name} {TAG}",
        encoder,
        course_id,
    )
    for position in range(clips):
        stack.sql(
            "INSERT INTO voice_clips (profile_id, position, filename, voiced_s, embedding)"
            " VALUES (%s, %s, %s, 6.5, %s)",
            profile_id,
            position,
            f"clip-{position}.wav",
            [0.125] * 192,
        )
    return profile_id


def exists(stack: Stack, profile_id: str) -> bool:
    return bool(stack.sql("SELECT 1 FROM voice_profiles WHERE id = %s", profile_id))


def name_of(stack: Stack, profile_id: str) -> str | None:
    found = stack.sql("SELECT name FROM voice_profiles WHERE id = %s", profile_id)
    return found[0][0] if found else None


def voice_jobs_of(stack: Stack, account: ApiClient) -> int:
    [(count,)] = stack.sql(
        "SELECT count(*) FROM jobs WHERE owner_id = %s AND kind = ANY(%s)", account.user_id, list(VOICE_KINDS)
    )
    return count


def submitted_job(response: httpx.Response, notice: str) -> str:
    """The job id of a form's answer: 303 back to the page, which links to the job."""
    assert response.status_code == 303, response.text[-2000:]
    found = re.fullmatch(
        rf"/admin/voices\?notice={notice}&job=([0-9a-f-]{{36}})", response.headers["location"]
    )
    assert found, response.headers["location"]
    return found.group(1)


def row_of(page: str, profile_id: str) -> str:
    return page.split(f'id="voice-{profile_id}"')[1].split("</tr>")[0]


@pytest.fixture(scope="module")
def course(stack: Stack) -> Iterator[str]:
    """A course of a platform, as a launch records it; the module's profiles go with the module."""
    platform_id, course_id = str(uuid.uuid4()), str(uuid.uuid4())
    stack.sql(
        "INSERT INTO lti_platforms (id, name, issuer, client_id, deployment_ids, auth_login_url,"
        " auth_token_url, jwks_url, accounts_key) VALUES (%s, 'Console LMS', %s, 'voices', '{}',"
        " 'https://lms.test/auth', 'https://lms.test/token', 'https://lms.test/jwks', %s)",
        platform_id,
        f"https://lms-{platform_id[:8]}.test",
        platform_id,
    )
    stack.sql(
        "INSERT INTO lti_contexts (id, platform_id, context_id, title) VALUES (%s, %s, %s, %s)",
        course_id,
        platform_id,
        f"course-{course_id[:8]}",
        COURSE_TITLE,
    )
    try:
        yield course_id
    finally:
        stack.sql("DELETE FROM lti_platforms WHERE id = %s", platform_id)
        stack.sql("DELETE FROM voice_profiles WHERE name LIKE %s", f"% {TAG}")


@pytest.fixture(scope="module")
def campplus_url(stack: Stack, course: str) -> Iterator[str]:
    """A second API whose diarizer is CAM++: there a Resemblyzer profile needs re-enrolment."""
    with stack.extra_api(**CAMPPLUS) as url:
        yield url


@pytest.fixture(scope="module")
def console(stack: Stack, admin: ApiClient) -> Iterator[httpx.Client]:
    response = console_sign_in(stack, admin)
    assert response.status_code == 303
    with closing(response.client) as client:
        yield client


def post(console: httpx.Client, path: str, files=None, **fields: str) -> httpx.Response:
    return console.post(path, data={"csrf_token": csrf_token(console, "/admin"), **fields}, files=files)


def forms(profile_id: str, course_id: str) -> list[tuple[str, dict[str, str], list | None]]:
    """Each form of the page as a browser would post it, less the CSRF token: each would act."""
    sent = [("clip", ("ann.wav", clip("ann", 10), "audio/wav"))]
    return [
        (ENROL, {"name": f"Forged {TAG}", "role": "host", "course_id": course_id}, sent),
        (REEMBED, {}, None),
        (f"/admin/voices/{profile_id}/rename", {"name": f"Forged {TAG}"}, None),
        (f"/admin/voices/{profile_id}/delete", {"confirm": "yes"}, None),
    ]


def test_the_route_table_has_the_voices_page_and_its_forms() -> None:
    """The access tests (test_console_access.py) try every route in this table too."""
    routes = {(method, re.sub(r"[0-9a-f-]{36}", "{id}", path)) for method, path in console_routes()}
    assert {
        ("GET", PAGE),
        ("GET", "/admin/voices/{id}/export"),
        ("GET", "/admin/voices/{id}/rename"),
        ("GET", "/admin/voices/{id}/delete"),
        ("POST", ENROL),
        ("POST", REEMBED),
        ("POST", "/admin/voices/{id}/rename"),
        ("POST", "/admin/voices/{id}/delete"),
    } <= routes


def test_a_non_admin_is_refused_every_voices_page_and_form(
    stack: Stack, client: ApiClient, course: str
) -> None:
    profile = add_profile(stack, "Refused Ann")
    with closing(signed_in(stack, client)) as user_browser:
        token = csrf_token(user_browser)  # a valid token: refused all the same
        pages = ("", "/export", "/rename", "/delete")
        for path in (PAGE, *(f"/admin/voices/{profile}{page}" for page in pages[1:])):
            response = user_browser.get(path)
            assert response.status_code == 403, path
            assert 'id="error-code">admin_only<' in response.text, path
            assert profile not in response.text
        for path, fields, files in forms(profile, course):
            response = user_browser.post(path, data={"csrf_token": token, **fields}, files=files)
            assert response.status_code == 403, path
            assert 'id="error-code">admin_only<' in response.text, path
    assert name_of(stack, profile) == f"Refused Ann {TAG}"
    assert voice_jobs_of(stack, client) == 0
    assert client.patch(f"/v1/admin/voices/{profile}", json={"name": "Mine"}).json()["code"] == "admin_only"


def test_every_voices_form_refuses_a_missing_or_wrong_token_and_another_origin(
    stack: Stack, console: httpx.Client, admin: ApiClient, course: str
) -> None:
    profile = add_profile(stack, "Guarded Ann")
    jobs_before = voice_jobs_of(stack, admin)
    token = csrf_token(console, PAGE)
    for path, fields, files in forms(profile, course):
        forged_posts_refused(console, token, path, fields, files)
    assert name_of(stack, profile) == f"Guarded Ann {TAG}"
    assert voice_jobs_of(stack, admin) == jobs_before


def test_the_page_lists_profiles_by_scope_with_encoder_clips_and_reenrolment_mark(
    stack: Stack, admin: ApiClient, course: str, campplus_url: str
) -> None:
    old = add_profile(stack, "Old Ann", encoder="resemblyzer", clips=2)
    new = add_profile(stack, "New Bob", encoder="campplus", clips=1)
    theirs = add_profile(stack, "Dr Lee", encoder="campplus", clips=3, course_id=course)
    signed = console_sign_in(stack, admin, base_url=campplus_url)
    assert signed.status_code == 303
    with closing(signed.client) as console, httpx.Client(base_url=campplus_url, headers=admin.headers) as api:
        page = console.get(PAGE)
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        text = page.text
        assert '<dd id="voice-engine"><code>campplus</code>' in text

        shared = text.split('id="voices-shared"')[1].split("</table>")[0]
        in_course = text.split(f'id="voices-course-{course}"')[1].split("</table>")[0]
        assert f"Course {COURSE_TITLE}</h2>" in text
        assert old in shared and new in shared and theirs not in shared
        assert theirs in in_course and old not in in_course

        older = row_of(text, old)
        assert "<code>resemblyzer</code>" in older and '<td class="clip-count">2</td>' in older
        assert "needs re-enrolment" in older and "voice_profile_needs_reenrolment" in older
        newer = row_of(text, new)
        assert "<code>campplus</code>" in newer and '<td class="clip-count">1</td>' in newer
        assert "needs re-enrolment" not in newer and '<span class="status status-ready">yes</span>' in newer
        assert '<td class="clip-count">3</td>' in row_of(text, theirs)

        # The counts are the JSON listing's (the same service, the same API's settings).
        listed = api.get("/v1/admin/voices").json()["items"]
        marked = sum(1 for item in listed if item["needs_reenrolment"])
        assert f'<dd id="voice-profiles">{len(listed)}</dd>' in text
        assert f'<dd id="voice-marked">{marked}</dd>' in text

        # The export is the JSON route's, as a file to save.
        exported = console.get(f"/admin/voices/{old}/export")
        assert exported.status_code == 200
        assert exported.headers["content-type"] == "application/json"
        assert exported.headers["content-disposition"] == f'attachment; filename="voice-profile-{old}.json"'
        assert exported.headers["cache-control"] == "no-store"
        assert exported.json() == api.get(f"/v1/admin/voices/{old}/export").json()
        assert len(exported.json()["clips"]) == 2

        # Deleting asks for its box; an unknown profile is the service's 404.
        assert f"Delete the voice profile Old Ann {TAG}?" in console.get(f"/admin/voices/{old}/delete").text
        refused = post(console, f"/admin/voices/{old}/delete")
        assert (refused.status_code, "confirmation_required" in refused.text) == (422, True)
        unknown = post(console, f"/admin/voices/{uuid.uuid4()}/delete", confirm="yes")
        assert (unknown.status_code, "voice_profile_not_found" in unknown.text) == (404, True)
        assert exists(stack, old)
        deleted = post(console, f"/admin/voices/{old}/delete", confirm="yes")
        assert (deleted.status_code, deleted.headers["location"]) == (303, "/admin/voices?notice=deleted")
        assert not exists(stack, old)
        after = console.get(deleted.headers["location"]).text
        assert "The voice profile and its clips are deleted." in after and old not in after


def test_the_enrol_form_queues_a_voice_enrol_job_with_the_clip(
    stack: Stack, console: httpx.Client, admin: ApiClient, course: str
) -> None:
    spoken = course_clip("ann", 10, 11)
    assert len(spoken) > 1_048_576  # past what any other console form may send
    name = f"Ann Enrolled {TAG}"
    response = post(
        console,
        ENROL,
        files=[("clip", ("ann.wav", spoken, "audio/wav"))],
        name=name,
        role="guest",
        course_id=course,
    )
    job_id = submitted_job(response, "enrolling")
    page = console.get(response.headers["location"])
    assert f'<a href="/admin/jobs/{job_id}">' in page.text
    assert "a voice.enrol job embeds them" in page.text

    [(kind, owner, sent, status, attachment)] = stack.sql(
        "SELECT kind, owner_id::text, input, status, (SELECT length(content) FROM job_attachments a"
        " WHERE a.job_id = j.id) FROM jobs j WHERE id = %s",
        job_id,
    )
    assert (kind, owner) == ("voice.enrol", admin.user_id)
    assert (sent["name"], sent["role"], sent["course_id"]) == (name, "guest", course)
    assert sent["clips"] == [{"filename": "ann.wav", "content_type": "audio/wav", "bytes": len(spoken)}]
    # The clips wait beside the job until its worker has read them (then they are deleted).
    assert attachment is not None or status != "queued", (status, attachment)
    assert "voice.enrol" in console.get(f"/admin/jobs/{job_id}").text

    # What the service refuses at once, the form refuses with the same code, and queues nothing.
    jobs_before = voice_jobs_of(stack, admin)
    taken = add_profile(stack, "Paul")
    wav = [("clip", ("tom.wav", clip("bob", 12), "audio/wav"))]
    for files, fields, status, code in (
        ([("clip", ("notes.txt", b"just some text, no audio", "text/plain"))], {}, 422, "corrupt_recording"),
        (wav, {"name": "S1"}, 422, "validation_error"),
        (wav, {"name": f"PAUL {TAG}"}, 409, "voice_profile_exists"),
        (wav, {"name": f"Pau1 {TAG}"}, 409, "voice_name_confusable"),
        (wav, {"course_id": str(uuid.uuid4())}, 404, "lti_course_not_found"),
        (None, {}, 422, "invalid_input"),
    ):
        refused = post(console, ENROL, files=files, **{"name": f"Tom {TAG}", "role": "host", **fields})
        assert refused.status_code == status, (code, refused.text[-1500:])
        assert f'id="error-code">{code}<' in refused.text, code
    assert voice_jobs_of(stack, admin) == jobs_before
    assert exists(stack, taken)


def test_the_reembed_button_queues_a_voice_reembed_job(
    stack: Stack, console: httpx.Client, admin: ApiClient
) -> None:
    job_id = submitted_job(post(console, REEMBED), "reembedding")
    assert stack.sql("SELECT kind, owner_id::text FROM jobs WHERE id = %s", job_id) == [
        ("voice.reembed", admin.user_id)
    ]
    page = console.get(f"/admin/voices?notice=reembedding&job={job_id}").text
    assert f'<a href="/admin/jobs/{job_id}">' in page
    assert f'id="voice-job-{job_id}"' in page  # among the voice jobs, newest first


def test_rename_by_an_enrolments_name_rules_in_the_profiles_scope(
    stack: Stack, console: httpx.Client, admin: ApiClient, course: str
) -> None:
    """The console's form and PATCH /v1/admin/voices/{id} (and the course's path) are one service."""
    ann = add_profile(stack, "Ann Before")
    add_profile(stack, "Paula")
    lee = add_profile(stack, "Lee", course_id=course)

    page = console.get(f"/admin/voices/{ann}/rename")
    assert f'value="Ann Before {TAG}"' in page.text
    response = post(console, f"/admin/voices/{ann}/rename", name=f"Ann After {TAG}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/voices?notice=renamed#voice-{ann}"
    assert name_of(stack, ann) == f"Ann After {TAG}"
    # The same rules as an enrolment's name, each with its code: the page shows it, nothing changes.
    for name, status, code in (
        (f"PAULA {TAG}", 409, "voice_profile_exists"),
        (f"Pau1a {TAG}", 409, "voice_name_confusable"),
        (f"Ann\u202eAfter {TAG}", 422, "voice_name_invalid"),
        ("S2", 422, "validation_error"),
    ):
        refused = post(console, f"/admin/voices/{ann}/rename", name=name)
        assert refused.status_code == status, (name, refused.text[-1500:])
        assert f'id="error-code">{code}<' in refused.text, name
        api = admin.patch(f"/v1/admin/voices/{ann}", json={"name": name})
        assert (api.status_code, api.json()["code"]) == (status, code), name
    assert name_of(stack, ann) == f"Ann After {TAG}"

    # Itself aside: another case of its own name is no clash.
    renamed = admin.patch(f"/v1/admin/voices/{ann}", json={"name": f"ann after {TAG}"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["clip_count"]) == (f"ann after {TAG}", 1)
    unknown = admin.patch(f"/v1/admin/voices/{uuid.uuid4()}", json={"name": "Nobody"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "voice_profile_not_found")

    # A course's names are the course's: a deployment-wide name is free there, and a course's path
    # reaches only the course's own profiles.
    in_course = admin.patch(f"/v1/lti/courses/{course}/voices/{lee}", json={"name": f"Paula {TAG}"})
    assert (in_course.status_code, in_course.json()["name"]) == (200, f"Paula {TAG}")
    elsewhere = admin.patch(f"/v1/lti/courses/{course}/voices/{ann}", json={"name": f"Cid {TAG}"})
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (404, "voice_profile_not_found")
    assert name_of(stack, ann) == f"ann after {TAG}"


def test_delete_a_profile_in_the_browser(
    stack: Stack, browser: Browser, admin: ApiClient, course: str, campplus_url: str
) -> None:
    add_profile(stack, "Ann Example", encoder="campplus", clips=3)
    add_profile(stack, "Old Guest", encoder="resemblyzer", clips=2)
    add_profile(stack, "Dr Roe", encoder="campplus", clips=2, course_id=course)
    gone = add_profile(stack, "Cid Leaving", encoder="campplus", clips=1)
    name = f"Cid Leaving {TAG}"
    context = browser.new_context(base_url=campplus_url, viewport=DESKTOP)
    context.set_default_timeout(WAIT_MS)
    try:
        page: Page = context.new_page()
        page.goto("/admin/login?next=/admin/voices")
        sign_in(page, admin)
        expect(page.get_by_role("heading", name="Voices", level=1)).to_be_visible(timeout=WAIT_MS)
        row = page.locator(f"#voice-{gone}")
        expect(row).to_contain_text(name, timeout=WAIT_MS)
        at_width(page, "voices")

        row.get_by_role("link", name=f"Delete {name}").click()
        expect(page.get_by_role("heading", name=f"Delete the voice profile {name}?")).to_be_visible()
        page.get_by_role("button", name="Delete the profile").click()
        # The box is required: the browser itself stops the form.
        expect(page.get_by_role("heading", name=f"Delete the voice profile {name}?")).to_be_visible()
        page.get_by_label(f"Yes, delete the voice profile {name}").check()
        page.get_by_role("button", name="Delete the profile").click()
        expect(page.get_by_role("status")).to_contain_text("The voice profile and its clips are deleted.")
        expect(page.locator(f"#voice-{gone}")).to_have_count(0)
    finally:
        context.close()
    assert not exists(stack, gone)
