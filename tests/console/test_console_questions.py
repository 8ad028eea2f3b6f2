"""The Question bank pages on the real stack: a third-party GIFT file (GIFT-grammar-PEG.js's copy of
Moodle's format.php examples) imported with lines Moodle would refuse, over HTTP and in Chromium, its
per-line report beside the JSON API's; exercise jobs the publish gate refused, with its reasons; an
essay left for an instructor, graded from the console; and every refusal (a non-admin, a missing or
wrong CSRF token, another origin) changing nothing."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from markupsafe import escape
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import ApiClient
from tests.console.attack_pages import forged_in_the_browser
from tests.console.browsing import JOB_MS, WAIT_MS, at_width
from tests.console.support import console_routes, console_sign_in, csrf_token, forged_posts_refused, signed_in
from tests.exercises.test_exercises import draft
from tests.profiles.support import wait_job
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack

PAGE = "/admin/questions"
GRADING = "/admin/questions/grading"
GIFT = "/admin/questions/gift"
JOB_S = 120  # a job to run on a loaded machine

# Nobody here wrote it: tests/exercises/data/gift_pegjs/README.md says where it comes from (MIT).
THIRD_PARTY = Path(__file__).parents[1] / "exercises" / "data" / "gift_pegjs" / "giftFormatPhpExamples.gift"
# Lines Moodle's importer would refuse or misread, after the file's 45 lines.
REFUSED_TAIL = """
$CATEGORY: $course$/top/Week 4

::Broken pairs:: Match them {=a -> 1 =b 2}

::Open:: Which one? {=a ~b
"""
REFUSED_LINES = [
    (47, None, "a category line ($CATEGORY: a question bank folder), not a question"),
    (49, "Broken pairs", "pair 2 has no '->' between its item and its match"),
    (51, "Open", "a '{' without its closing '}' (write \\{ for a literal brace)"),
]
IMPORTED = 10  # the questions of the third-party file


def gift_file() -> bytes:
    original = THIRD_PARTY.read_bytes()
    assert original.count(b"\n") == 45
    return original + REFUSED_TAIL.encode()


@pytest.fixture(scope="module")
def console(stack: Stack, admin: ApiClient) -> Iterator[httpx.Client]:
    response = console_sign_in(stack, admin)
    assert response.status_code == 303
    with closing(response.client) as client:
        yield client


def post(console: httpx.Client, path: str, files=None, **fields: str) -> httpx.Response:
    return console.post(path, data={"csrf_token": csrf_token(console, "/admin"), **fields}, files=files)


def imported_with(stack: Stack, topic: str) -> int:
    """How many exercise jobs an import under this topic made."""
    rows = stack.sql("SELECT count(*) FROM jobs WHERE kind = 'exercise' AND input->>'topic' = %s", topic)
    return rows[0][0]


def awaiting(admin: ApiClient, submission_id: str) -> bool:
    """Whether the JSON API still lists the submission as waiting for an instructor's grade."""
    queue = admin.get("/v1/admin/exercises/submissions").json()["submissions"]
    return any(item["id"] == submission_id for item in queue)


def essay_awaiting_grade(admin: ApiClient, learner: ApiClient) -> tuple[str, str, str]:
    """An essay its author grades (grader: instructor), answered by the learner: (submission id,
    exercise id, answer)."""
    created = admin.post(
        "/v1/admin/exercises",
        json={
            "exercise_type": "essay",
            "title": f"Tides {uuid.uuid4().hex[:6]}",
            "prompt": "Explain what causes the tides.",
            "rubric": "Mentions the Moon's gravity.",
            "answer": "Mostly the Moon's pull.",
            "grader": "instructor",
            "skills": ["tides"],
        },
    )
    assert created.status_code == 202, created.text
    job = wait_job(admin, created.json()["id"], timeout=JOB_S)
    assert job["status"] == "succeeded", job["error"]
    exercise_id = job["output"]["exercise_id"]
    essay = f"The Moon's gravity pulls the oceans into two bulges ({uuid.uuid4().hex[:8]})."
    answered = learner.post(f"/api/learning/exercises/{exercise_id}/submissions", json={"answer": essay})
    assert answered.status_code == 202, answered.text
    graded = wait_job(learner, answered.json()["id"], timeout=JOB_S)
    assert graded["output"]["status"] == "awaiting_instructor", graded
    (submission,) = learner.get(f"/api/learning/exercises/{exercise_id}/submissions").json()["submissions"]
    return submission["id"], exercise_id, essay


def forms(submission_id: str, topic: str) -> list[tuple[str, dict, dict | None]]:
    """Every form of the pages, filled as an admin would fill it: (path, fields, files)."""
    return [
        (GIFT, {"topic": topic}, {"file": ("quiz.gift", gift_file(), "text/plain")}),
        (GIFT, {"topic": topic, "text": gift_file().decode()}, None),
        (
            f"/admin/questions/submissions/{submission_id}/grade",
            {"score": "1", "feedback": "Well done."},
            None,
        ),
    ]


def test_the_route_table_has_the_pages_and_forms() -> None:
    """The access tests (test_console_access.py) try every route in this table."""
    routes = {(method, re.sub(r"[0-9a-f-]{36}", "{id}", path)) for method, path in console_routes()}
    assert {
        ("GET", PAGE),
        ("GET", GRADING),
        ("POST", GIFT),
        ("POST", "/admin/questions/submissions/{id}/grade"),
    } <= routes


def test_a_non_admin_is_refused_every_page_and_form(
    stack: Stack, client: ApiClient, other_client: ApiClient, admin: ApiClient
) -> None:
    submission_id, _, _ = essay_awaiting_grade(admin, other_client)
    topic = f"refused {uuid.uuid4().hex[:8]}"
    with closing(signed_in(stack, client)) as user_browser:
        token = csrf_token(user_browser)  # a valid token: refused all the same
        for path in (PAGE, GRADING):
            response = user_browser.get(path)
            assert response.status_code == 403, path
            assert 'id="error-code">admin_only<' in response.text, path
        for path, fields, files in forms(submission_id, topic):
            response = user_browser.post(path, data={"csrf_token": token, **fields}, files=files)
            assert response.status_code == 403, path
            assert 'id="error-code">admin_only<' in response.text, path
    assert imported_with(stack, topic) == 0
    assert awaiting(admin, submission_id)


def test_every_form_refuses_a_missing_or_wrong_token_and_another_origin(
    stack: Stack, console: httpx.Client, client: ApiClient, admin: ApiClient
) -> None:
    submission_id, _, _ = essay_awaiting_grade(admin, client)
    topic = f"forged {uuid.uuid4().hex[:8]}"
    token = csrf_token(console, PAGE)
    for path, fields, files in forms(submission_id, topic):
        forged_posts_refused(console, token, path, fields, files)
    assert imported_with(stack, topic) == 0
    assert awaiting(admin, submission_id)


def report_rows(page: str, table: str) -> list[list[str]]:
    """The cells of a report table's body rows as text (tags stripped, entities read)."""
    body = page.split(f'id="{table}"')[1].split("<tbody>")[1].split("</tbody>")[0]
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_a_third_party_gift_file_is_imported_with_its_per_line_report(
    stack: Stack, console: httpx.Client, admin: ApiClient
) -> None:
    topic = f"grant {uuid.uuid4().hex[:8]}"
    response = post(
        console, GIFT, files={"file": ("format-php.gift", gift_file(), "text/plain")}, topic=topic
    )
    assert response.status_code == 200, response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert f'<dd id="gift-imported">{IMPORTED}</dd>' in response.text
    assert '<dd id="gift-refused">3</dd>' in response.text
    refused = report_rows(response.text, "gift-refused-lines")
    assert refused == [[str(line), title or "—", reason] for line, title, reason in REFUSED_LINES]
    # The same report as the JSON API's, which the same service makes.
    api = admin.post("/v1/admin/exercises/gift", json={"text": gift_file().decode(), "topic": f"api {topic}"})
    assert api.status_code == 202, api.text
    assert [(s["line"], s["title"], s["reason"]) for s in api.json()["skipped"]] == REFUSED_LINES
    assert len(api.json()["jobs"]) == IMPORTED

    # Each imported question is a real exercise job, linked from the report, run through the gate.
    jobs = stack.sql(
        "SELECT id FROM jobs WHERE kind = 'exercise' AND input->>'topic' = %s ORDER BY created_at", topic
    )
    assert len(jobs) == IMPORTED
    imported = report_rows(response.text, "gift-imported-questions")
    assert [row[1] for row in imported] == [
        "multiple_choice",
        "multiple_choice",
        "multiple_choice",
        "qa",
        "numeric",
        "matching",
        "multiple_choice",
        "multiple_choice",
        "qa",
        "numeric",
    ]
    assert imported[6][0].startswith("Grant's Tomb: Grant is _____ in Grant's tomb.")
    for (job_id,) in jobs:
        assert f'href="/admin/jobs/{job_id}"' in response.text
        assert wait_job(admin, str(job_id), timeout=JOB_S)["status"] == "succeeded"

    # Pasted text is read the same way; a file that is not UTF-8, or nothing at all, is refused.
    pasted = post(console, GIFT, text=REFUSED_TAIL, topic=f"pasted {topic}")
    assert pasted.status_code == 200 and '<dd id="gift-imported">0</dd>' in pasted.text
    assert report_rows(pasted.text, "gift-refused-lines")[0] == [
        "2",
        "—",
        "a category line ($CATEGORY: a question bank folder), not a question",
    ]
    latin = post(console, GIFT, files={"file": ("quiz.gift", "Café? {=oui ~non}".encode("latin-1"))})
    assert (latin.status_code, "not UTF-8" in latin.text) == (422, True)
    nul = post(console, GIFT, files={"file": ("quiz.gift", b"Why? {=a\x00 ~b}")}, topic=f"pasted {topic}")
    assert (nul.status_code, 'id="error-code">invalid_text<' in nul.text) == (422, True)
    empty = post(console, GIFT, text="  ")
    assert (empty.status_code, 'id="error-code">validation_error<' in empty.text) == (422, True)
    assert imported_with(stack, f"pasted {topic}") == 0


def test_the_exercises_the_gate_refused_are_listed_with_its_reasons(
    console: httpx.Client, client: ApiClient, admin: ApiClient, fake_ollama: FakeOllama
) -> None:
    topic = f"subtraction {uuid.uuid4().hex[:8]}"
    broken = draft(
        prompt="Write sub(a, b).",
        starter_code="def sub(a, b):\n    return a - b\n",  # already passes
        solution_code="def sub(a, b):\n    return a + b\n",  # fails its own tests
        tests=[{"name": "subtracts", "code": "assert sub(5, 3) == 2", "hidden": False}],
        cited_chunk_ids=[987654321],  # a chunk the search never returned
    )
    fake_ollama.script(topic, broken, broken, broken)
    requested = client.post("/api/learning/exercises", json={"exercise_type": "coding", "topic": topic})
    generated = wait_job(client, requested.json()["id"], timeout=JOB_S)
    assert generated["error"]["code"] == "exercise_rejected"
    authored = admin.post(
        "/v1/admin/exercises",
        json={
            "exercise_type": "multiple_choice",
            "title": f"Capital {topic}",
            "prompt": "What is the capital of Portugal?",
            "choices": ["Lisbon", "Porto", "Faro"],
            "answer": "Madrid",
        },
    )
    refused = wait_job(admin, authored.json()["id"], timeout=JOB_S)
    assert refused["error"]["code"] == "exercise_rejected"

    page = console.get(PAGE)
    assert page.status_code == 200
    row = page.text.split(f'id="refused-{generated["id"]}"')[1].split("</tr>")[0]
    assert f"on {topic}" in row and f"the model, for {client.email}" in row
    drafts = generated["error"]["details"]["reasons"]
    assert len(drafts) == 3
    for number, reasons in enumerate(drafts, start=1):
        assert f"<li>draft {number}: {escape('; '.join(reasons))}</li>" in row
    assert "cites chunks the search did not return" in row
    row = page.text.split(f'id="refused-{refused["id"]}"')[1].split("</tr>")[0]
    assert f"<strong>Capital {topic}</strong>" in row and f"an admin ({admin.email})" in row
    assert "<li>the correct answer is not one of the options</li>" in row
    assert f'href="/admin/jobs/{refused["id"]}"' in row
    # Newest first, as GET /v1/jobs?kind=exercise&status=failed lists them (the same service).
    listed = admin.get("/v1/jobs", params={"kind": "exercise", "status": "failed", "limit": 50}).json()
    order = [job["id"] for job in listed["items"] if f'id="refused-{job["id"]}"' in page.text]
    assert order.index(refused["id"]) < order.index(generated["id"])


def test_an_essay_awaiting_a_grade_is_graded_from_the_console(
    console: httpx.Client, client: ApiClient, admin: ApiClient
) -> None:
    submission_id, exercise_id, essay = essay_awaiting_grade(admin, client)
    page = console.get(GRADING)
    section = page.text.split(f'id="submission-{submission_id}"')[1].split("</section>")[0]
    assert escape(essay) in section and client.email in section
    assert "Mentions the Moon&#39;s gravity." in section and "Mostly the Moon&#39;s pull." in section
    path = f"/admin/questions/submissions/{submission_id}/grade"

    # A score outside 0 to 1, or no feedback: refused, as by the API, and still waiting.
    for fields in (
        {"score": "2", "feedback": "x"},
        {"score": "0.5", "feedback": " "},
        {"score": "", "feedback": "x"},
    ):
        response = post(console, path, **fields)
        assert (response.status_code, 'id="error-code">validation_error<' in response.text) == (422, True)
    assert awaiting(admin, submission_id)

    response = post(console, path, score="0.8", feedback="Good: the bulges are right.")
    assert (response.status_code, response.headers["location"]) == (303, f"{GRADING}?notice=graded")
    assert "Graded: the learner sees the score" in console.get(response.headers["location"]).text
    assert not awaiting(admin, submission_id)
    (seen,) = client.get(f"/api/learning/exercises/{exercise_id}/submissions").json()["submissions"]
    assert (seen["status"], seen["result"]["score"], seen["result"]["graded_by"]) == (
        "graded",
        0.8,
        "instructor",
    )
    assert seen["result"]["feedback"] == "Good: the bulges are right."
    again = post(console, path, score="0.1", feedback="Changed my mind.")
    assert (again.status_code, 'id="error-code">submission_not_awaiting_grade<' in again.text) == (409, True)
    unknown = post(console, "/admin/questions/submissions/not-an-id/grade", score="1", feedback="x")
    assert (unknown.status_code, 'id="error-code">submission_not_found<' in unknown.text) == (404, True)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"], ids=["another port of the host", "another site"])
def test_an_import_forged_by_another_page_in_the_admins_browser_changes_nothing(
    stack: Stack, context: BrowserContext, host: str
) -> None:
    """From another port of the API's host (the browser sends the console's cookies; the origin check
    refuses it) or from another site (the cookies stay home: signed out)."""
    topic = f"forged page {uuid.uuid4().hex[:8]}"
    target = f"{stack.api_url}{GIFT}"
    fields = {"csrf_token": "0" * 64, "topic": topic, "text": gift_file().decode()}
    forged_in_the_browser(context, stack.api_url, host, target, fields)
    assert imported_with(stack, topic) == 0


def test_the_pages_in_chromium_a_gift_import_through_the_form_and_a_grade(
    page: Page, stack: Stack, client: ApiClient, admin: ApiClient
) -> None:
    submission_id, _, essay = essay_awaiting_grade(admin, client)
    topic = f"browser {uuid.uuid4().hex[:8]}"
    page.goto("/admin")
    page.get_by_role("link", name="Question bank").click()
    expect(page.get_by_role("heading", name="Question bank", level=1)).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("link", name="Question bank")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("table", name="Failed exercise jobs, newest first")).to_be_visible()
    at_width(page, "question-bank")

    page.get_by_label("GIFT file (UTF-8 text, as Moodle exports it)").set_input_files(
        files=[{"name": "format-php.gift", "mimeType": "text/plain", "buffer": gift_file()}]
    )
    page.get_by_label("Topic (optional)").fill(topic)
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="GIFT import report", level=1)).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#gift-imported")).to_have_text(str(IMPORTED))
    refused = page.get_by_role("table", name="Refused, by line")
    for line, _, reason in REFUSED_LINES:
        expect(refused.get_by_role("row", name=str(line))).to_contain_text(reason)
    imported = page.get_by_role("table", name="Imported, in the file's order")
    expect(imported.get_by_role("row")).to_have_count(IMPORTED + 1)  # and the header
    at_width(page, "gift-report")
    # A question's job, from the report: the gate publishes it.
    imported.get_by_role("link").first.click()
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=JOB_MS)
    assert imported_with(stack, topic) == IMPORTED

    page.goto(GRADING)
    section = page.locator(f"#submission-{submission_id}")
    expect(section).to_contain_text(essay)
    section.get_by_label("Score, from 0 to 1 (1 is full marks)").fill("0.9")
    section.get_by_label("Feedback the learner sees").fill("Right: the Moon's pull makes two bulges.")
    at_width(page, "question-grading")
    section.get_by_role("button", name="Grade").click()
    expect(page.get_by_role("status")).to_contain_text("Graded:", timeout=WAIT_MS)
    expect(page.locator(f"#submission-{submission_id}")).to_have_count(0)
    assert not awaiting(admin, submission_id)
