"""The console's forms over HTTP (no browser): what each does to the platform, and its refusals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest

from tests.conftest import ApiClient, register
from tests.console.support import console_sign_in, csrf_token
from tests.support.receiver import Receiver
from tests.support.stack import Stack, wait_until


@pytest.fixture(scope="module")
def console(stack: Stack, admin: ApiClient) -> Iterator[httpx.Client]:
    response = console_sign_in(stack, admin)
    assert response.status_code == 303
    with closing(response.client) as client:
        yield client


def post(console: httpx.Client, path: str, **fields: str) -> httpx.Response:
    return console.post(path, data={"csrf_token": csrf_token(console, "/admin"), **fields})


def test_jobs_filter_by_owner_email_kind_and_status(console: httpx.Client, client: ApiClient) -> None:
    job = client.post("/v1/jobs", json={"kind": "debug.sleep", "input": {}}).json()
    page = console.get("/admin/jobs", params={"user": client.email.upper(), "kind": "debug.sleep"})
    assert page.status_code == 200
    assert f"/admin/jobs/{job['id']}" in page.text
    assert page.text.count('<tr>\n        <th scope="row"><a href="/admin/jobs/') == 1
    other = console.get("/admin/jobs", params={"user": client.email, "kind": "ask"})
    assert f"/admin/jobs/{job['id']}" not in other.text
    nobody = console.get("/admin/jobs", params={"user": "nobody-at-all@example.com"})
    assert "No account has the e-mail nobody-at-all@example.com" in nobody.text


def test_users_search_by_part_of_the_email_and_wildcards_match_only_themselves(
    console: httpx.Client, client: ApiClient
) -> None:
    part = client.email.split("@")[0][-8:].upper()  # any case
    assert client.email in console.get("/admin/users", params={"q": part}).text
    # Each would match this account as a LIKE pattern; typed literally, none can (a bare "%" could:
    # other tests on the shared stack register addresses holding one).
    for typed in ("%" + part, "user-%@example.com"):
        page = console.get("/admin/users", params={"q": typed})
        assert page.status_code == 200
        assert "No accounts match." in page.text, typed


def test_redeliver_a_webhook_delivery_from_the_job_page(console: httpx.Client, client: ApiClient) -> None:
    hook = Receiver()
    try:
        job = client.post(
            "/v1/jobs",
            json={"kind": "debug.sleep", "input": {}, "webhook": hook.url},
            headers={"Prefer": "wait=30"},
        ).json()
        wait_until(lambda: len(hook.received) == 1, timeout=60, message="the first delivery")
        [delivery] = client.get(f"/v1/jobs/{job['id']}/deliveries").json()["items"]
        page = console.get(f"/admin/jobs/{job['id']}")
        assert f"/deliveries/{delivery['id']}/redeliver" in page.text
        response = post(console, f"/admin/jobs/{job['id']}/deliveries/{delivery['id']}/redeliver")
        assert response.status_code == 303
        assert response.headers["location"] == f"/admin/jobs/{job['id']}?notice=redelivered"
        wait_until(lambda: len(hook.received) == 2, timeout=60, message="the redelivery")
        assert hook.received[0].headers["webhook-id"] == hook.received[1].headers["webhook-id"]
    finally:
        hook.close()


def test_cancel_of_a_finished_job_is_a_409_page(console: httpx.Client, client: ApiClient) -> None:
    job = client.post(
        "/v1/jobs", json={"kind": "debug.sleep", "input": {}}, headers={"Prefer": "wait=30"}
    ).json()
    assert job["status"] == "succeeded"
    response = post(console, f"/admin/jobs/{job['id']}/cancel")
    assert response.status_code == 409
    assert 'id="error-code">job_not_cancelable<' in response.text


def test_deactivate_and_reactivate_an_account(stack: Stack, console: httpx.Client, client: ApiClient) -> None:
    assert client.get("/users/me").status_code == 200
    response = post(console, f"/admin/users/{client.user_id}/deactivate")
    assert response.status_code == 303
    assert client.get("/users/me").status_code == 401  # its tokens are refused at once
    post(console, f"/admin/users/{client.user_id}/reactivate")
    assert client.get("/users/me").status_code == 200
    post(console, f"/admin/users/{client.user_id}/promote")
    assert stack.sql("SELECT is_superuser FROM users WHERE id = %s", client.user_id) == [(True,)]
    post(console, f"/admin/users/{client.user_id}/demote")
    assert stack.sql("SELECT is_superuser FROM users WHERE id = %s", client.user_id) == [(False,)]


def test_an_admin_cannot_lock_themself_out(stack: Stack, console: httpx.Client, admin: ApiClient) -> None:
    for action in ("demote", "deactivate", "delete"):
        response = post(console, f"/admin/users/{admin.user_id}/{action}", confirm="yes")
        assert response.status_code == 409, action
        assert 'id="error-code">own_account<' in response.text
    assert stack.sql("SELECT is_superuser, is_active FROM users WHERE id = %s", admin.user_id) == [
        (True, True)
    ]


def test_delete_needs_its_confirmation(stack: Stack, console: httpx.Client) -> None:
    with register(stack.api_url) as member:
        response = post(console, f"/admin/users/{member.user_id}/delete")
        assert response.status_code == 422
        assert 'id="error-code">confirmation_required<' in response.text
        assert member.get("/users/me").status_code == 200
        response = post(console, f"/admin/users/{member.user_id}/delete", confirm="yes")
        assert response.status_code == 303
        deletion_page = response.headers["location"]
        assert deletion_page.startswith("/admin/jobs/")
        assert member.get("/users/me").status_code == 401
        wait_until(
            lambda: not stack.sql("SELECT 1 FROM users WHERE id = %s", member.user_id),
            timeout=120,
            message="the deletion job",
        )


def test_reingest_and_delete_a_document(stack: Stack, console: httpx.Client, client: ApiClient) -> None:
    """A user's private document: admins re-ingest and delete it, but do not upload into it."""
    submitted = client.post(
        "/v1/documents/text", json={"title": "Kelp", "text": "Kelp forests grow fast.", "collection": "notes"}
    ).json()
    document_id = submitted["document"]["id"]
    first_job = submitted["job"]["id"]
    wait_until(
        lambda: client.get(f"/v1/documents/{document_id}").json()["status"] == "ready",
        timeout=240,
        message="the document to be ready",
    )
    [(collection_id,)] = stack.sql("SELECT collection_id FROM documents WHERE id = %s", document_id)
    page = console.get(f"/admin/library/{collection_id}")
    assert "Kelp" in page.text and "a user&#39;s private collection" in page.text
    assert 'action="/admin/library/upload"' not in page.text

    response = post(console, f"/admin/library/documents/{document_id}/reingest")
    assert response.headers["location"] == f"/admin/library/{collection_id}?notice=reingesting"
    document = client.get(f"/v1/documents/{document_id}").json()
    assert document["ingest_job_id"] != first_job
    wait_until(
        lambda: client.get(f"/v1/documents/{document_id}").json()["status"] == "ready",
        timeout=240,
        message="the document to be ready again",
    )
    second = client.get(f"/v1/jobs/{document['ingest_job_id']}").json()
    assert second["status"] == "succeeded"

    # An upload into it is refused: the form names the collection, the service checks it.
    refused = console.post(
        "/admin/library/upload",
        data={"csrf_token": csrf_token(console, "/admin"), "collection_id": str(collection_id)},
        files={"files": ("more.md", b"# More\n\ntext", "text/markdown")},
    )
    assert refused.status_code == 403
    assert 'id="error-code">collection_read_only<' in refused.text

    response = post(console, f"/admin/library/documents/{document_id}/delete")
    assert response.status_code == 303
    assert client.get(f"/v1/documents/{document_id}").status_code == 404


def test_an_unsupported_upload_is_listed_on_an_error_page(stack: Stack, console: httpx.Client) -> None:
    response = post(console, "/admin/library/collections", name="console-refusals")
    assert response.status_code in (303, 409)  # 409: made by an earlier run on this database
    [(collection_id,)] = stack.sql(
        "SELECT id FROM collections WHERE name = 'console-refusals' AND owner_id IS NULL"
    )
    refused = console.post(
        "/admin/library/upload",
        data={"csrf_token": csrf_token(console, "/admin"), "collection_id": str(collection_id)},
        files={"files": ("program.exe", b"MZ\x90\x00\x03binary", "application/octet-stream")},
    )
    assert refused.status_code == 422
    assert "program.exe" in refused.text and "0 accepted" in refused.text


def test_moving_a_label_another_admin_moved_meanwhile_is_refused(
    console: httpx.Client, admin: ApiClient
) -> None:
    kind = "grade"
    history = admin.get(f"/v1/admin/instructions/{kind}").json()
    active = history["active_version"]
    created = admin.post(f"/v1/admin/instructions/{kind}", json={"text": "Grade fairly.", "note": "console"})
    newest = created.json()["version"]
    stale = str(active + 1000)  # what a page opened before someone else's move would send
    response = post(console, f"/admin/instructions/{kind}/active", version=str(newest), expected=stale)
    assert response.status_code == 412
    assert 'id="error-code">label_moved<' in response.text
    assert admin.get(f"/v1/admin/instructions/{kind}").json()["active_version"] == active
    diff = console.get(f"/admin/instructions/{kind}", params={"a": active, "b": 99999})
    assert diff.status_code == 404


def test_a_label_moved_to_a_version_past_its_column_is_refused_not_a_server_error(
    console: httpx.Client, admin: ApiClient
) -> None:
    kind = "grade"
    active = admin.get(f"/v1/admin/instructions/{kind}").json()["active_version"]
    for version in (str(2**31), "0"):
        response = post(console, f"/admin/instructions/{kind}/active", version=version, expected=str(active))
        assert response.status_code == 422, response.text
    assert admin.get(f"/v1/admin/instructions/{kind}").json()["active_version"] == active
