"""The console in a real browser: Debian's Chromium driven by Playwright, on the session's stack.

Every wait has a timeout and waits on a condition (the machine may be a loaded 2-core box). Each
page is saved as a screenshot under .test-artifacts/console/ (desktop at 1280 px; the overview
and a job's page also at 375 px). The browser and the signed-in context are conftest.py's."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import ApiClient, register
from tests.console.browsing import DESKTOP, JOB_MS, WAIT_MS, at_width, screenshot, sign_in
from tests.support.stack import Stack, wait_until


@contextlib.contextmanager
def cpu_worker_stopped(stack: Stack) -> Iterator[None]:
    """No worker consumes the `cpu` queue (debug.sleep's): a job submitted now stays queued."""
    stack.stop("worker")
    try:
        yield
    finally:
        if "worker" not in stack.processes:
            stack.start_worker()


def sleep_job(admin: ApiClient, **input: object) -> str:
    response = admin.post("/v1/jobs", json={"kind": "debug.sleep", "input": input})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def test_sign_in_through_the_form_lands_on_the_page_asked_for(
    stack: Stack, browser: Browser, admin: ApiClient
) -> None:
    context = browser.new_context(base_url=stack.api_url, viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto("/admin/jobs?status=failed")
        expect(page).to_have_title("Sign in · mentorq admin", timeout=WAIT_MS)
        screenshot(page, "login")
        page.get_by_label("E-mail").fill(admin.email)
        page.get_by_label("Password").fill("wrong-password-here")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#login-error")).to_have_text("Wrong e-mail or password.", timeout=WAIT_MS)
        sign_in(page, admin)
        expect(page.get_by_role("heading", name="Jobs", level=1)).to_be_visible(timeout=WAIT_MS)
        assert page.url.endswith("/admin/jobs?status=failed")
        expect(page.get_by_label("Status")).to_have_value("failed", timeout=WAIT_MS)
    finally:
        context.close()


def test_overview_shows_the_admin_stats(page: Page) -> None:
    page.goto("/admin")
    expect(page).to_have_title("Overview · mentorq admin", timeout=WAIT_MS)
    expect(page.get_by_role("table", name="Workers per queue")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("heading", name="Last hour")).to_be_visible(timeout=WAIT_MS)
    # The charts, drawn on the server as SVG images with their figures in words (no script runs).
    for name in ("Jobs per minute by status, last hour", "Queue wait p95 per lane, last 24 hours"):
        chart = page.get_by_role("img", name=re.compile(re.escape(name)))
        expect(chart).to_be_visible(timeout=WAIT_MS)
    assert page.locator("svg.chart polyline, svg.chart circle").count() >= 1  # the suite's jobs drawn
    expect(page.get_by_role("link", name="Overview")).to_have_attribute(
        "aria-current", "page", timeout=WAIT_MS
    )
    at_width(page, "overview")


def test_a_job_goes_from_queued_to_succeeded_live_on_its_page(
    stack: Stack, page: Page, admin: ApiClient
) -> None:
    with cpu_worker_stopped(stack):
        job_id = sleep_job(admin, seconds=1, steps=4)
        page.goto(f"/admin/jobs/{job_id}")
        status = page.locator("#job-status")
        expect(status).to_have_text("queued", timeout=WAIT_MS)
        expect(page.locator("#live-note")).to_have_text("Following the job live.", timeout=WAIT_MS)
        page.evaluate("window.stillTheSamePage = true")  # a reload would lose it
        stack.start_worker()
    expect(status).to_have_text("succeeded", timeout=JOB_MS)
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.locator("#job-output")).to_contain_text('"slept_seconds"', timeout=WAIT_MS)
    expect(page.locator("#job-progress")).not_to_have_text("—", timeout=WAIT_MS)
    expect(page.locator("#job-events")).to_contain_text("succeeded", timeout=WAIT_MS)
    expect(page.locator("#cancel-form")).to_be_hidden(timeout=WAIT_MS)
    at_width(page, "job")

    page.goto("/admin/jobs?kind=debug.sleep&status=succeeded")
    expect(page.get_by_role("link", name=job_id[:8])).to_be_visible(timeout=WAIT_MS)
    screenshot(page, "jobs")


def test_cancel_a_job_from_its_page(stack: Stack, page: Page, admin: ApiClient) -> None:
    with cpu_worker_stopped(stack):
        job_id = sleep_job(admin, seconds=1)
        page.goto(f"/admin/jobs/{job_id}")
        expect(page.locator("#job-status")).to_have_text("queued", timeout=WAIT_MS)
        page.get_by_role("button", name="Cancel this job").click()
        expect(page.get_by_role("status").filter(has_text="The job was canceled.")).to_be_visible(
            timeout=WAIT_MS
        )
        expect(page.locator("#job-status")).to_have_text("canceled", timeout=WAIT_MS)
        expect(page.get_by_role("button", name="Cancel this job")).to_have_count(0, timeout=WAIT_MS)
    assert admin.get(f"/v1/jobs/{job_id}").json()["status"] == "canceled"


def test_upload_a_document_and_find_it_with_the_search_form(page: Page) -> None:
    name = f"console-{uuid.uuid4().hex[:8]}"
    page.goto("/admin/library")
    page.get_by_label("Name (letters, digits, . _ -)").fill(name)
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_have_text("The shared collection is created.", timeout=WAIT_MS)
    screenshot(page, "library")
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", name=f"Collection {name}", level=1)).to_be_visible(timeout=WAIT_MS)

    marker = f"zyzzogeton{uuid.uuid4().hex[:6]}"
    text = (
        f"# Tide pools\n\nThe {marker} is a rare creature of tide pools. It hides under rocks at low tide "
        "and feeds on the plankton the waves bring in. Volunteers count them every spring.\n"
    )
    page.get_by_label("Files (txt, md, html, pdf, docx, srt, vtt, zip)").set_input_files(
        files=[{"name": "tide-pools.md", "mimeType": "text/markdown", "buffer": text.encode()}]
    )
    page.get_by_label("Title (one file only)").fill("Tide pools")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status")).to_contain_text("Uploaded", timeout=WAIT_MS)
    row = page.locator("#documents tbody tr", has_text="Tide pools")
    expect(row).to_have_count(1, timeout=WAIT_MS)

    def ready() -> bool:
        page.reload()
        return row.locator(".status").inner_text(timeout=WAIT_MS) == "ready"

    wait_until(ready, timeout=240, interval=2, message="the uploaded document to be ready")

    def found() -> bool:  # the first search may meet a query worker still loading its model
        page.get_by_label("Question or words").fill(f"where does the {marker} hide")
        with page.expect_navigation(timeout=WAIT_MS):
            page.get_by_role("button", name="Search").click()
        results = page.locator("#search-results")
        return results.count() == 1 and "Tide pools" in results.inner_text(timeout=WAIT_MS)

    wait_until(found, timeout=120, interval=2, message="the search form to find the document")
    expect(page.locator("#search-results")).to_contain_text(marker, timeout=WAIT_MS)
    screenshot(page, "collection")

    # Deleting asks first: dismissed, the document stays; accepted, it goes.
    asked: list[str] = []

    def answer(accept: bool):
        def on_dialog(dialog) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return on_dialog

    page.once("dialog", answer(False))
    row.get_by_role("button", name="Delete Tide pools").click()
    assert len(asked) == 1
    page.reload()  # what the server holds: a dismissed form was never sent
    expect(row).to_have_count(1, timeout=WAIT_MS)
    page.once("dialog", answer(True))
    with page.expect_navigation(timeout=WAIT_MS):
        row.get_by_role("button", name="Delete Tide pools").click()
    expect(row).to_have_count(0, timeout=WAIT_MS)
    assert asked == ["Delete Tide pools? Its passages leave search at once."] * 2


def test_change_the_active_instructions_version(page: Page, admin: ApiClient) -> None:
    kind = "tutor"
    before = admin.get(f"/v1/admin/instructions/{kind}").json()
    original = before["active_version"]
    page.goto("/admin/instructions")
    screenshot(page, "instructions")
    page.get_by_role("link", name=kind, exact=True).click()
    expect(page.locator("#active-version")).to_have_text(str(original), timeout=WAIT_MS)

    # A new version through the form: the active one's text plus a line.
    active_text = next(v["text"] for v in before["versions"] if v["version"] == original)
    page.get_by_label("Text", exact=True).fill(active_text + "\nBe brief in the console test.")
    page.get_by_label("Note (what changed and why)").fill("console test")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_role("status")).to_contain_text("The new version is saved", timeout=WAIT_MS)
    newest = admin.get(f"/v1/admin/instructions/{kind}").json()["versions"][0]["version"]
    assert newest > original

    page.get_by_label("From version").select_option(str(original))
    page.get_by_label("To version").select_option(str(newest))
    page.get_by_role("button", name="Show the difference").click()
    expect(page.locator("pre.diff ins")).to_have_text("+Be brief in the console test.", timeout=WAIT_MS)

    try:
        page.get_by_role("button", name=f"Make version {newest} active").click()
        expect(page.locator("#active-version")).to_have_text(str(newest), timeout=WAIT_MS)
        expect(page.get_by_role("status")).to_contain_text("The active label moved", timeout=WAIT_MS)
        assert admin.get(f"/v1/admin/instructions/{kind}").json()["active_version"] == newest
        page.goto(f"/admin/instructions/{kind}?a={original}&b={newest}")
        screenshot(page, "instruction-kind")
    finally:  # the rest of the suite expects the shipped instructions
        page.goto(f"/admin/instructions/{kind}")
        page.get_by_role("button", name=f"Make version {original} active").click()
        expect(page.locator("#active-version")).to_have_text(str(original), timeout=WAIT_MS)
    assert admin.get(f"/v1/admin/instructions/{kind}").json()["active_version"] == original


def test_users_page_promotes_and_deletes_with_a_confirmation(stack: Stack, page: Page) -> None:
    with register(stack.api_url) as member:
        page.goto("/admin/users")
        page.get_by_label("E-mail contains").fill(member.email)
        page.get_by_role("button", name="Search").click()
        row = page.locator(f"#user-{member.user_id}")
        expect(row).to_contain_text(member.email, timeout=WAIT_MS)
        row.get_by_role("button", name=f"Promote {member.email}").click()
        expect(page.get_by_role("status")).to_have_text("The account is now an admin.", timeout=WAIT_MS)
        assert stack.sql("SELECT is_superuser FROM users WHERE id = %s", member.user_id) == [(True,)]
        page.goto(f"/admin/users?q={member.email}")
        screenshot(page, "users")

        page.locator(f"#user-{member.user_id}").get_by_role("link", name=f"Delete {member.email}").click()
        expect(page.get_by_role("heading", name=f"Delete {member.email}?")).to_be_visible(timeout=WAIT_MS)
        screenshot(page, "user-delete")
        page.get_by_role("button", name="Delete the account").click()
        # The box is required: the browser itself stops the form.
        expect(page.get_by_role("heading", name=f"Delete {member.email}?")).to_be_visible(timeout=WAIT_MS)
        page.get_by_label(f"Yes, delete {member.email} and everything it owns").check()
        page.get_by_role("button", name="Delete the account").click()
        expect(page.locator("#job-status")).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_role("heading", level=1)).to_contain_text("Job", timeout=WAIT_MS)
        expect(page.locator("#job-status")).to_have_text("succeeded", timeout=JOB_MS)
        assert stack.sql("SELECT count(*) FROM users WHERE id = %s", member.user_id) == [(0,)]


def test_keyboard_skip_link_and_navigation(page: Page) -> None:
    page.goto("/admin")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    page.goto("/admin")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Jobs":
            break
    else:
        pytest.fail("Tab never reached the Jobs link")
    focused_outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focused_outline != "none", "the focused link shows no focus outline"
    page.keyboard.press("Enter")
    expect(page).to_have_title("Jobs · mentorq admin", timeout=WAIT_MS)
    expect(page.get_by_role("link", name="Jobs", exact=True)).to_have_attribute(
        "aria-current", "page", timeout=WAIT_MS
    )


def test_a_refusal_is_a_page(page: Page) -> None:
    page.goto(f"/admin/jobs/{uuid.uuid4()}")
    expect(page.locator("#error-code")).to_have_text("job_not_found", timeout=WAIT_MS)
    screenshot(page, "error")
