"""/v1/admin/sources: admins only, validation with stable codes, the SSRF guard at registration,
editing, the run log's pages, and deleting a source while keeping its documents."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import ApiClient
from tests.sources.conftest import NEVER_SOON, create_source, run_source, shared_collection, source_documents
from tests.support.site import Site, html
from tests.support.stack import Stack


def refused(admin: ApiClient | httpx.Client, collection: dict, **fields) -> dict:
    body = {"collection_id": collection["id"], "name": "x", "kind": "feed", "schedule": NEVER_SOON, **fields}
    response = admin.post("/v1/admin/sources", json=body)
    assert response.status_code >= 400, response.text
    return {"status": response.status_code, **response.json()}


def test_every_route_is_for_admins_only(client: ApiClient, admin_client: ApiClient, site: Site) -> None:
    source = create_source(
        admin_client, shared_collection(admin_client), kind="page", location=site.url("/p")
    )
    some = f"/v1/admin/sources/{source['id']}"
    calls = [
        (
            "POST",
            "/v1/admin/sources",
            {
                "collection_id": str(uuid.uuid4()),
                "name": "n",
                "kind": "page",
                "location": site.url("/p"),
                "schedule": "@daily",
            },
        ),
        ("GET", "/v1/admin/sources", None),
        ("GET", some, None),
        ("PATCH", some, {"paused": True}),
        ("DELETE", some, None),
        ("POST", f"{some}/run", None),
        ("GET", f"{some}/runs", None),
    ]
    for method, path, body in calls:
        response = client.request(method, path, json=body)
        assert (response.status_code, response.json()["code"]) == (403, "admin_only"), (method, path)
    assert admin_client.get(some).status_code == 200  # nothing was changed by the refused calls
    # Nor can a user start a run through the job API: the kind is the platform's.
    job = client.post("/v1/jobs", json={"kind": "source_run", "input": {"source_id": source["id"]}})
    assert (job.status_code, job.json()["code"]) == (422, "unknown_kind")


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"location": "http://x.example/f", "schedule": "every day"}, 422, "invalid_schedule"),
        ({"location": "http://x.example/f", "schedule": "* * * * * *"}, 422, "invalid_schedule"),
        ({"location": "http://x.example/f", "schedule": "0 0 30 2 *"}, 422, "invalid_schedule"),
        ({"location": "http://x.example/f", "kind": "ftp"}, 422, "invalid_source_kind"),
        ({"location": "ftp://x.example/f"}, 422, "url_invalid"),
        ({"location": "http://user:pw@x.example/f"}, 422, "url_invalid"),
        ({"location": "http://0x7f.1/feed"}, 422, "url_invalid"),
        ({"location": "/etc", "kind": "folder"}, 422, "folder_outside_root"),
        ({"location": "../../etc", "kind": "folder"}, 422, "folder_outside_root"),
        ({"location": "no-such-folder", "kind": "folder"}, 422, "folder_not_found"),
        ({"location": "http://x.example/f", "name": ""}, 422, "validation_error"),
    ],
)
def test_bad_sources_are_refused_with_a_code(
    admin_client: ApiClient, fields: dict, status: int, code: str
) -> None:
    problem = refused(admin_client, shared_collection(admin_client), **fields)
    assert (problem["status"], problem["code"]) == (status, code), problem


def test_a_folder_symlink_out_of_the_root_is_refused(admin_client: ApiClient, stack: Stack) -> None:
    root = Path(stack.env["MENTORQ_SOURCE_FOLDERS_ROOT"])
    link = root / f"escape-{uuid.uuid4().hex[:8]}"
    link.symlink_to("/etc")
    problem = refused(admin_client, shared_collection(admin_client), kind="folder", location=str(link))
    assert problem["code"] == "folder_outside_root"


def test_collections_a_source_may_feed(admin_client: ApiClient, other_client: ApiClient) -> None:
    private = other_client.post("/v1/collections", json={"name": f"mine-{uuid.uuid4().hex[:6]}"}).json()
    problem = refused(admin_client, private, location="http://x.example/f")
    assert (problem["status"], problem["code"]) == (403, "collection_read_only")
    problem = refused(admin_client, {"id": str(uuid.uuid4())}, location="http://x.example/f")
    assert (problem["status"], problem["code"]) == (404, "collection_not_found")
    collection = shared_collection(admin_client)
    create_source(admin_client, collection, kind="feed", location="http://x.example/f")
    problem = refused(admin_client, collection, location="http://x.example/f")
    assert (problem["status"], problem["code"]) == (409, "source_exists")


def test_private_addresses_and_folders_are_refused_where_the_settings_say_so(
    admin_client: ApiClient, stack: Stack
) -> None:
    collection = shared_collection(admin_client)
    headers = {"Authorization": admin_client.headers["Authorization"]}
    with stack.extra_api(MENTORQ_FETCH_ALLOW_PRIVATE="false", MENTORQ_SOURCE_FOLDERS_ROOT="") as url:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as strict:
            for location in (
                "http://127.0.0.1:8080/feed",
                "http://169.254.169.254/latest",
                "http://localhost/x",
            ):
                problem = refused(strict, collection, location=location)
                assert (problem["status"], problem["code"]) == (422, "url_forbidden"), location
            problem = refused(strict, collection, kind="folder", location="docs")
            assert (problem["status"], problem["code"]) == (422, "folder_sources_disabled")


def test_editing_pausing_paging_and_deleting(admin_client: ApiClient, stack: Stack, site: Site) -> None:
    page = site.page("/p", html("Kept", "A document outlives its source."))
    source = create_source(admin_client, shared_collection(admin_client), kind="page", location=page)
    assert source["paused"] is False and source["consecutive_failures"] == 0 and source["last_run"] is None
    assert datetime.fromisoformat(source["next_run_at"]) > datetime.now(UTC)

    edited = admin_client.patch(
        f"/v1/admin/sources/{source['id']}",
        json={"name": "renamed", "schedule": "*/5  *  * * *", "remove_missing": True},
    ).json()
    assert (edited["name"], edited["schedule"], edited["remove_missing"]) == ("renamed", "*/5 * * * *", True)
    assert edited["next_run_at"] != source["next_run_at"]
    bad = admin_client.patch(f"/v1/admin/sources/{source['id']}", json={"schedule": "61 * * * *"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_schedule")
    paused = admin_client.patch(f"/v1/admin/sources/{source['id']}", json={"paused": True}).json()
    assert paused["paused"] is True and admin_client.email in paused["paused_reason"]

    for _ in range(3):  # a paused source still runs when asked to
        job, run = run_source(admin_client, source)
        assert run["status"] == "succeeded"
    first = admin_client.get(f"/v1/admin/sources/{source['id']}/runs", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = admin_client.get(
        f"/v1/admin/sources/{source['id']}/runs", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert [r["unchanged"] for r in first["items"] + rest["items"]] == [1, 1, 0]

    [document] = source_documents(stack, source["id"]).values()
    assert admin_client.delete(f"/v1/admin/sources/{source['id']}").status_code == 204
    assert admin_client.get(f"/v1/admin/sources/{source['id']}").json()["code"] == "source_not_found"
    assert stack.sql("SELECT source_id FROM documents WHERE id = %s", document["id"]) == [(None,)]
    assert stack.sql("SELECT count(*) FROM source_runs WHERE source_id = %s", source["id"]) == [(0,)]
    for path in (f"/v1/admin/sources/{uuid.uuid4()}", "/v1/admin/sources/not-an-id"):
        assert admin_client.get(path).json()["code"] == "source_not_found"
