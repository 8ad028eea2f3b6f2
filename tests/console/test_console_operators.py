"""The console's LLM routing and Sources pages: each form's effect over HTTP (checked through the
API), their refusals with the API's codes, providers shown without their keys; then in a real
browser: set a route, register a source on a local web site and run it now (screenshots under
.test-artifacts/console/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ApiClient, make_admin, register
from tests.console.browsing import WAIT_MS, at_width, screenshot
from tests.console.support import console_sign_in, post_form
from tests.sources.conftest import NEVER_SOON, create_source, run_source, shared_collection, wait_job
from tests.support.fake_llm_server import DEFAULT_KEY
from tests.support.fake_openai import DEFAULT_MODELS as OPENAI_MODELS
from tests.support.fake_openai import FakeOpenAI
from tests.support.site import Site, html
from tests.support.stack import Stack, free_port, wait_until

# The stack's default LLM (MENTORQ_LLM_PROVIDER / MENTORQ_LLM_MODEL): routes set by these tests
# name it first, so another test's job of the kind still gets its answer from the fake Ollama.
DEFAULT_PROVIDER, DEFAULT_MODEL = "ollama", "llama3.2:1b"
KIND = "ask"  # the HTTP tests' kind
BROWSER_KIND = "progress_insight"  # the browser test's kind
PAUSE_AFTER = 3  # MENTORQ_SOURCE_PAUSE_AFTER_FAILURES' default


@pytest.fixture(scope="module")
def console(stack: Stack, admin: ApiClient) -> Iterator[httpx.Client]:
    """The admin signed in through the console's form (httpx, no browser)."""
    response = console_sign_in(stack, admin)
    assert response.status_code == 303, response.text
    with closing(response.client) as client:
        yield client


@pytest.fixture
def no_routes(stack: Stack) -> Iterator[None]:
    """The kinds these tests route start and end on the default (the database is the session's)."""
    clear = "DELETE FROM llm_routes WHERE kind IN (%s, %s)"
    stack.sql(clear, KIND, BROWSER_KIND)
    yield
    stack.sql(clear, KIND, BROWSER_KIND)


def error_code(response: httpx.Response) -> str:
    found = re.search(r'id="error-code">([a-z_]+)<', response.text)
    assert found, (response.status_code, response.text[-1500:])
    return found.group(1)


def row(page_html: str, row_id: str) -> str:
    """The HTML of one table row, by its id."""
    found = re.search(rf'<tr id="{re.escape(row_id)}">(.*?)</tr>', page_html, re.S)
    assert found, f"no row {row_id}"
    return found.group(1)


# --- LLM routing over HTTP --------------------------------------------------------------------


def test_the_routing_page_lists_each_kind_and_each_providers_status(console: httpx.Client) -> None:
    page = console.get("/admin/llm")
    assert page.status_code == 200
    for kind in ("ask", "chat", "tutor", "grade", "debug.llm"):
        assert f'id="edit-{"route-" + kind.replace(".", "-")}"' in page.text, kind
    assert "default (settings):" in row(page.text, "route-ask")
    assert f"{DEFAULT_PROVIDER} / {DEFAULT_MODEL}" in row(page.text, "route-ask")
    # The stack configures Ollama (the fake) and no Anthropic key.
    assert ">available<" in row(page.text, "provider-ollama")
    assert "unavailable: key missing" in row(page.text, "provider-anthropic")
    assert "unavailable: not configured" in row(page.text, "provider-openai_compatible")
    datalist = re.search(r'<datalist id="models-ollama">(.*?)</datalist>', page.text, re.S).group(1)
    assert f'<option value="{DEFAULT_MODEL}">' in datalist


def test_save_a_route_see_it_through_the_api_then_reset_it(
    console: httpx.Client, admin: ApiClient, no_routes: None
) -> None:
    saved = post_form(
        console,
        f"/admin/llm/{KIND}",
        provider=DEFAULT_PROVIDER,
        model=DEFAULT_MODEL,
        fallback_1_provider="",
        fallback_1_model="",
        fallback_2_provider="anthropic",
        fallback_2_model="",
        fallback_3_provider="ollama",
        fallback_3_model="qwen2.5:0.5b",
        max_tokens="512",
        temperature="0.25",
    )
    assert (saved.status_code, saved.headers["location"]) == (303, "/admin/llm?notice=saved#route-ask")
    route = admin.get(f"/v1/admin/llm-routes/{KIND}").json()
    assert (route["provider"], route["model"]) == (DEFAULT_PROVIDER, DEFAULT_MODEL)
    # Blank rows are skipped; the others keep their order.
    assert route["fallbacks"] == [
        {"provider": "anthropic", "model": None},
        {"provider": "ollama", "model": "qwen2.5:0.5b"},
    ]
    assert (route["max_tokens"], route["temperature"]) == (512, 0.25)
    assert route["updated_by"] == admin.user_id

    page = console.get("/admin/llm?notice=saved")
    assert "The route is saved." in page.text
    shown = row(page.text, "route-ask")
    assert f"{DEFAULT_PROVIDER} / {DEFAULT_MODEL}" in shown and "default (settings)" not in shown
    assert shown.index("anthropic") < shown.index("qwen2.5:0.5b")
    assert ">512<" in shown and ">0.25<" in shown and admin.email in shown
    assert "anthropic: unavailable: key missing" in shown
    # The form shows the route as saved, so saving it again changes nothing.
    assert 'id="route-ask-max-tokens" name="max_tokens" type="number"' in page.text
    assert re.search(r'id="route-ask-fb2-model" name="fallback_2_model"[^>]*value="qwen2.5:0.5b"', page.text)

    reset = post_form(console, f"/admin/llm/{KIND}/reset")
    assert (reset.status_code, reset.headers["location"]) == (303, "/admin/llm?notice=reset#route-ask")
    gone = admin.get(f"/v1/admin/llm-routes/{KIND}")
    assert (gone.status_code, gone.json()["code"]) == (404, "llm_route_not_found")
    assert "default (settings):" in row(console.get("/admin/llm").text, "route-ask")
    again = post_form(console, f"/admin/llm/{KIND}/reset")
    assert again.headers["location"] == "/admin/llm?notice=already_default#route-ask"


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"provider": "nope"}, 422, "unknown_provider"),
        ({"provider": ""}, 422, "unknown_provider"),
        ({"model": "m" * 201}, 422, "invalid_model"),
        ({"max_tokens": "many"}, 422, "invalid_max_tokens"),
        ({"max_tokens": "0"}, 422, "invalid_max_tokens"),
        ({"max_tokens": "40000"}, 422, "invalid_max_tokens"),
        ({"max_tokens": "1.5"}, 422, "invalid_max_tokens"),
        ({"temperature": "2.5"}, 422, "invalid_temperature"),
        ({"temperature": "warm"}, 422, "invalid_temperature"),
        ({"temperature": "nan"}, 422, "invalid_temperature"),
        ({"fallback_1_provider": "bogus"}, 422, "unknown_provider"),
        (
            {"fallback_1_provider": DEFAULT_PROVIDER, "fallback_1_model": DEFAULT_MODEL},
            422,
            "duplicate_fallback",
        ),
        ({"fallback_2_model": "gpt-4o"}, 422, "validation_error"),
    ],
)
def test_invalid_route_values_are_refused_with_their_code_and_nothing_is_saved(
    console: httpx.Client, admin: ApiClient, no_routes: None, fields: dict[str, str], status: int, code: str
) -> None:
    response = post_form(
        console, f"/admin/llm/{KIND}", **{"provider": DEFAULT_PROVIDER, "model": DEFAULT_MODEL, **fields}
    )
    assert (response.status_code, error_code(response)) == (status, code)
    assert admin.get(f"/v1/admin/llm-routes/{KIND}").status_code == 404


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [("no.such.kind", 404, "unknown_kind"), ("debug.sleep", 422, "not_an_llm_kind")],
)
def test_a_route_for_a_kind_that_makes_no_llm_call_is_refused(
    console: httpx.Client, kind: str, status: int, code: str
) -> None:
    for path in (f"/admin/llm/{kind}", f"/admin/llm/{kind}/reset"):
        response = post_form(console, path, provider=DEFAULT_PROVIDER)
        assert (response.status_code, error_code(response)) == (status, code), path


def test_providers_with_keys_show_whether_they_answer_and_never_the_key(
    stack: Stack, no_routes: None
) -> None:
    """On an API whose settings name an OpenAI-compatible server (a fake, with its key) and an
    Anthropic key for an address where nothing listens."""
    anthropic_key = "sk-ant-console-never-shown-0123456789"
    openai = FakeOpenAI(port=free_port()).start()
    settings = {
        "MENTORQ_OPENAI_BASE_URL": openai.base_url,
        "MENTORQ_OPENAI_API_KEY": DEFAULT_KEY,
        "MENTORQ_ANTHROPIC_API_KEY": anthropic_key,
        "MENTORQ_ANTHROPIC_BASE_URL": f"http://127.0.0.1:{free_port()}",
    }
    try:
        with stack.extra_api(**settings) as url, register(url) as account:
            make_admin(stack, account)
            signed_in = console_sign_in(stack, account, base_url=url)
            with closing(signed_in.client) as client:
                saved = post_form(
                    client,
                    f"/admin/llm/{KIND}",
                    provider=DEFAULT_PROVIDER,
                    model=DEFAULT_MODEL,
                    fallback_1_provider="openai_compatible",
                    fallback_1_model=OPENAI_MODELS[0],
                )
                assert saved.status_code == 303, saved.text
                page = client.get("/admin/llm").text
                assert ">available<" in row(page, "provider-openai_compatible")
                datalist = re.search(r'<datalist id="models-openai_compatible">(.*?)</datalist>', page, re.S)
                assert all(f'<option value="{model}">' in datalist.group(1) for model in OPENAI_MODELS)
                assert "unavailable: unreachable" in row(page, "provider-anthropic")
                assert "openai_compatible: available" in row(page, "route-ask")
                assert anthropic_key not in page and DEFAULT_KEY not in page

                # The deployment's key stops being accepted: shown once the probe's cache expires.
                openai.api_key = "a-rotated-key-0123456789"

                def refused() -> bool:
                    return "unavailable: key refused" in row(
                        client.get("/admin/llm").text, "provider-openai_compatible"
                    )

                wait_until(refused, timeout=30, interval=0.5, message="the refused key on the page")
                page = client.get("/admin/llm").text
                assert "openai_compatible: unavailable: key refused" in row(page, "route-ask")
                assert anthropic_key not in page and DEFAULT_KEY not in page and "a-rotated-key" not in page
    finally:
        openai.stop()


# --- Sources over HTTP ------------------------------------------------------------------------


def source_id_of(response: httpx.Response, notice: str) -> str:
    assert response.status_code == 303, response.text[-1500:]
    found = re.fullmatch(
        rf"/admin/sources/([0-9a-f-]{{36}})\?notice={notice}(&job=[0-9a-f-]{{36}})?",
        response.headers["location"],
    )
    assert found, response.headers["location"]
    return found.group(1)


def source_fields(collection: dict[str, Any], url: str, **fields: str) -> dict[str, str]:
    """The new-source form's fields: a page source, with `fields` replacing any of them."""
    return {
        "collection_id": collection["id"],
        "name": "Console guide",
        "kind": "page",
        "location": url,
        "schedule": NEVER_SOON,
        **fields,
    }


def test_register_edit_pause_resume_and_delete_a_source(
    console: httpx.Client, admin: ApiClient, site: Site
) -> None:
    collection = shared_collection(admin)
    assert f'<option value="{collection["id"]}">' in console.get("/admin/sources").text
    url = site.page("/guide.html", html("Guide", "Tide pools at low tide."))

    created = post_form(console, "/admin/sources", **source_fields(collection, url, remove_missing="yes"))
    source_id = source_id_of(created, "created")
    source = admin.get(f"/v1/admin/sources/{source_id}").json()
    assert (source["name"], source["kind"], source["location"], source["schedule"]) == (
        "Console guide",
        "page",
        url,
        NEVER_SOON,
    )
    assert (source["collection_id"], source["remove_missing"], source["paused"]) == (
        collection["id"],
        True,
        False,
    )
    listed = row(console.get("/admin/sources").text, f"source-{source_id}")
    assert "Console guide" in listed and collection["name"] in listed and NEVER_SOON in listed
    assert "never run" in listed and ">active<" in listed
    assert "The source is registered." in console.get(created.headers["location"]).text

    edited = post_form(console, f"/admin/sources/{source_id}/edit", name="Renamed guide", schedule="@daily")
    assert source_id_of(edited, "saved") == source_id
    source = admin.get(f"/v1/admin/sources/{source_id}").json()
    # The box left unticked turns removal off.
    assert (source["name"], source["schedule"], source["remove_missing"]) == (
        "Renamed guide",
        "@daily",
        False,
    )
    refused = post_form(console, f"/admin/sources/{source_id}/edit", name="Other", schedule="every day")
    assert (refused.status_code, error_code(refused)) == (422, "invalid_schedule")
    assert admin.get(f"/v1/admin/sources/{source_id}").json()["name"] == "Renamed guide"

    paused = post_form(console, f"/admin/sources/{source_id}/pause")
    assert source_id_of(paused, "paused") == source_id
    source = admin.get(f"/v1/admin/sources/{source_id}").json()
    assert (source["paused"], source["paused_reason"]) == (True, f"paused by {admin.email}")
    page = console.get(f"/admin/sources/{source_id}").text
    assert f"paused by {admin.email}" in page and ">Resume<" in page
    assert f"paused by {admin.email}" in row(console.get("/admin/sources").text, f"source-{source_id}")
    resumed = post_form(console, f"/admin/sources/{source_id}/resume")
    assert source_id_of(resumed, "resumed") == source_id
    assert admin.get(f"/v1/admin/sources/{source_id}").json()["paused"] is False

    confirm = console.get(f"/admin/sources/{source_id}/delete")
    assert (
        confirm.status_code == 200 and 'name="confirm" type="checkbox" value="yes" required' in confirm.text
    )
    unconfirmed = post_form(console, f"/admin/sources/{source_id}/delete")
    assert (unconfirmed.status_code, error_code(unconfirmed)) == (422, "confirmation_required")
    assert admin.get(f"/v1/admin/sources/{source_id}").status_code == 200
    deleted = post_form(console, f"/admin/sources/{source_id}/delete", confirm="yes")
    assert (deleted.status_code, deleted.headers["location"]) == (303, "/admin/sources?notice=deleted")
    assert admin.get(f"/v1/admin/sources/{source_id}").json()["code"] == "source_not_found"
    gone = console.get(f"/admin/sources/{source_id}")
    assert (gone.status_code, error_code(gone)) == (404, "source_not_found")


def test_a_bad_source_is_refused_with_the_apis_code(
    console: httpx.Client, admin: ApiClient, client: ApiClient, site: Site
) -> None:
    collection = shared_collection(admin)
    url = site.page("/page.html", html("Page", "words"))
    private = client.post("/v1/collections", json={"name": "mine"}).json()
    cases = [
        ({"schedule": "every day"}, 422, "invalid_schedule"),
        ({"kind": "ftp"}, 422, "invalid_source_kind"),
        ({"location": "ftp://example.com/feed"}, 422, "url_invalid"),
        ({"kind": "folder", "location": "/etc"}, 422, "folder_outside_root"),
        ({"name": ""}, 422, "validation_error"),
        ({"collection_id": "not-an-id"}, 422, "validation_error"),
        ({"collection_id": private["id"]}, 403, "collection_read_only"),
    ]
    for fields, status, code in cases:
        response = post_form(console, "/admin/sources", **source_fields(collection, url, **fields))
        assert (response.status_code, error_code(response)) == (status, code), fields
    items = admin.get("/v1/admin/sources").json()["items"]
    assert [item for item in items if item["collection_id"] == collection["id"]] == []  # nothing saved
    source_id_of(post_form(console, "/admin/sources", **source_fields(collection, url)), "created")
    twice = post_form(console, "/admin/sources", **source_fields(collection, url, name="again"))
    assert (twice.status_code, error_code(twice)) == (409, "source_exists")


def test_run_now_submits_a_run_job_and_the_run_log_shows_its_counts(
    console: httpx.Client, admin: ApiClient, site: Site
) -> None:
    url = site.page("/lesson.html", html("Lesson", "The tide comes in twice a day."))
    source = create_source(admin, shared_collection(admin), kind="page", location=url)

    submitted = post_form(console, f"/admin/sources/{source['id']}/run")
    assert source_id_of(submitted, "run_submitted") == source["id"]
    job_id = submitted.headers["location"].rsplit("job=", 1)[1]
    job = wait_job(admin, job_id)
    assert (job["kind"], job["status"]) == ("source_run", "succeeded"), job
    page = console.get(submitted.headers["location"]).text
    assert "A run is submitted." in page and f'href="/admin/jobs/{job_id}"' in page
    [run] = admin.get(f"/v1/admin/sources/{source['id']}/runs").json()["items"]
    shown = row(page, f"run-{run['id']}")
    assert '<td class="run-added">1</td>' in shown and '<td class="run-failed">0</td>' in shown
    assert f'href="/admin/jobs/{job_id}"' in shown and ">manual<" in shown

    # Again, unchanged: nothing is ingested twice.
    again = post_form(console, f"/admin/sources/{source['id']}/run")
    wait_job(admin, again.headers["location"].rsplit("job=", 1)[1])
    page = console.get(f"/admin/sources/{source['id']}").text
    assert (
        page.count('<td class="run-unchanged">1</td>') == 1
        and page.count('<td class="run-added">1</td>') == 1
    )


def test_a_source_paused_after_failed_runs_shows_why_and_each_runs_error(
    console: httpx.Client, admin: ApiClient, site: Site
) -> None:
    source = create_source(admin, shared_collection(admin), kind="page", location=site.status("/broken", 500))
    for _ in range(PAUSE_AFTER):
        run_source(admin, source)
    listed = row(console.get("/admin/sources").text, f"source-{source['id']}")
    assert ">paused<" in listed and f"{PAUSE_AFTER} failed runs in a row; the last: url_http_error" in listed
    assert f"{PAUSE_AFTER} failed runs in a row (pauses at {PAUSE_AFTER})" in listed
    page = console.get(f"/admin/sources/{source['id']}").text
    assert "none while paused" in page
    runs = admin.get(f"/v1/admin/sources/{source['id']}/runs").json()["items"]
    assert len(runs) == PAUSE_AFTER
    for run in runs:  # each failed run with its error, and the item's own error listed under it
        shown = row(page, f"run-{run['id']}")
        assert ">failed<" in shown and f"<code>{run['error']['code']}</code>: " in shown
        assert "1 item error" in shown and run["item_errors"][0]["item"] in shown


# --- in the browser ----------------------------------------------------------------------------


def test_set_a_route_in_the_browser_and_see_it(page: Page, admin: ApiClient, no_routes: None) -> None:
    slug = "route-" + BROWSER_KIND
    page.goto("/admin/llm")
    expect(page.get_by_role("heading", name="LLM routing", level=1)).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(f"#{slug}")).to_contain_text("default (settings)", timeout=WAIT_MS)
    editor = page.locator(f"#edit-{slug}")
    page.get_by_role("link", name=f"Edit the route of {BROWSER_KIND}").click()
    if not editor.evaluate("details => details.open"):  # Chromium may open it for the fragment
        editor.locator("summary").click()
    page.get_by_label(f"Provider for {BROWSER_KIND}").select_option(DEFAULT_PROVIDER)
    page.get_by_label(f"Model for {BROWSER_KIND}").fill(DEFAULT_MODEL)
    editor.get_by_label("Fallback 1 provider").select_option("anthropic")
    editor.get_by_label("Max tokens (1 to 32768)").fill("300")
    editor.get_by_label("Temperature (0 to 2)").fill("0.4")
    page.get_by_role("button", name=f"Save the route of {BROWSER_KIND}").click()

    expect(page.get_by_role("status")).to_have_text(
        "The route is saved. Workers use it within a few seconds.", timeout=WAIT_MS
    )
    shown = page.locator(f"#{slug}")
    expect(shown).to_contain_text(f"{DEFAULT_PROVIDER} / {DEFAULT_MODEL}", timeout=WAIT_MS)
    expect(shown).to_contain_text("anthropic: unavailable: key missing", timeout=WAIT_MS)
    expect(shown.locator("td").nth(2)).to_have_text("300", timeout=WAIT_MS)
    route = admin.get(f"/v1/admin/llm-routes/{BROWSER_KIND}").json()
    assert (route["provider"], route["model"], route["max_tokens"], route["temperature"]) == (
        DEFAULT_PROVIDER,
        DEFAULT_MODEL,
        300,
        0.4,
    )
    assert route["fallbacks"] == [{"provider": "anthropic", "model": None}]
    page.goto("/admin/llm")  # from the top, with this kind's editor open, for the screenshot
    page.locator(f"#edit-{slug} > summary").click()
    at_width(page, "llm-routing")

    page.get_by_role("button", name=f"Reset {BROWSER_KIND} to the default").click()
    expect(page.get_by_role("status")).to_contain_text("uses the default provider", timeout=WAIT_MS)
    expect(page.locator(f"#{slug}")).to_contain_text("default (settings)", timeout=WAIT_MS)
    assert admin.get(f"/v1/admin/llm-routes/{BROWSER_KIND}").status_code == 404


def test_register_a_source_and_run_it_now_in_the_browser(page: Page, admin: ApiClient, site: Site) -> None:
    collection = shared_collection(admin)
    url = site.page("/browser-lesson.html", html("Browser lesson", "Kelp forests grow fast in cold water."))
    page.goto("/admin/sources")
    page.get_by_label("Collection", exact=True).select_option(collection["id"])
    page.get_by_label("Name", exact=True).fill("Kelp lesson")
    page.get_by_label("Kind", exact=True).select_option("page")
    page.get_by_label("Location (a URL").fill(url)
    page.get_by_label("Schedule (cron").fill(NEVER_SOON)
    page.get_by_role("button", name="Register the source").click()
    expect(page.get_by_role("heading", name="Source Kelp lesson", level=1)).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("status")).to_contain_text("The source is registered.", timeout=WAIT_MS)
    expect(page.locator("#runs")).to_contain_text("No runs yet.", timeout=WAIT_MS)

    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_role("status")).to_contain_text("A run is submitted.", timeout=WAIT_MS)
    job_link = page.locator("#submitted-job a")
    job_id = job_link.inner_text(timeout=WAIT_MS)
    assert wait_job(admin, job_id)["status"] == "succeeded"
    page.reload()
    run_row = page.locator("#runs tbody tr").first
    expect(run_row.locator(".run-added")).to_have_text("1", timeout=WAIT_MS)
    expect(run_row.locator(".run-failed")).to_have_text("0", timeout=WAIT_MS)
    expect(run_row).to_contain_text("succeeded", timeout=WAIT_MS)
    at_width(page, "source")

    page.goto("/admin/sources")
    expect(page.locator("#sources")).to_contain_text("Kelp lesson", timeout=WAIT_MS)
    expect(page.locator("#sources")).to_contain_text("1 added", timeout=WAIT_MS)
    at_width(page, "sources")

    # The run's job opens on the job page.
    page.goto("/admin/sources")
    page.get_by_role("link", name="Kelp lesson").click()
    page.locator("#runs tbody tr").first.get_by_role("link").click()
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=WAIT_MS)
    screenshot(page, "source-run-job")
