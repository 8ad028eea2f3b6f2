"""Accounts and profiles on the real stack: sign-up, If-Match edits, revisions, the wiki made
searchable, admins' view."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import ApiClient, register
from tests.profiles.support import profile, wait_job
from tests.support.stack import Stack, wait_until


def _signup(stack: Stack, **fields) -> httpx.Response:
    unique = uuid.uuid4().hex[:10]
    body = {
        "email": f"p-{unique}@example.com",
        "password": "long-enough-pass",
        "username": f"learner-{unique}",
    }
    body.update(fields)
    return httpx.post(f"{stack.api_url}/api/profiles/create", json=body, timeout=30)


def test_create_account_with_profile_then_log_in(stack: Stack):
    unique = uuid.uuid4().hex[:10]
    response = _signup(
        stack, email=f"ada-{unique}@example.com", username=f"ada-{unique}", display_name="Ada L."
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "created" and body["username"] == f"ada-{unique}"
    token = httpx.post(
        f"{stack.api_url}/auth/jwt/login",
        data={"username": f"ada-{unique}@example.com", "password": "long-enough-pass"},
    ).json()["access_token"]
    me = httpx.get(f"{stack.api_url}/api/profiles/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["username"] == f"ada-{unique}"
    assert me.json()["display_name"] == "Ada L."
    assert me.json()["user_id"] == body["user_id"]
    assert me.headers["ETag"] == '"1"'


def test_sign_up_refusals_have_stable_codes(stack: Stack):
    email = f"first-{uuid.uuid4().hex[:8]}@example.com"
    first = _signup(stack, email=email)
    assert first.status_code == 201
    taken_email = _signup(stack, email=email.upper())
    assert taken_email.status_code == 409 and taken_email.json()["code"] == "email_taken"
    taken_name = _signup(stack, username=first.json()["username"].upper())  # usernames are case-blind
    assert taken_name.status_code == 409 and taken_name.json()["code"] == "username_taken"
    short = _signup(stack, password="short")
    assert short.status_code == 422 and short.json()["code"] == "weak_password"
    email_in_password = _signup(stack, email="me-x1@example.com", password="xx-me-x1@example.com-xx")
    assert email_in_password.status_code == 422 and email_in_password.json()["code"] == "weak_password"
    bad_name = _signup(stack, username="no spaces/or slashes")
    assert bad_name.status_code == 422
    nothing_made = stack.sql("SELECT count(*) FROM users WHERE email = 'me-x1@example.com'")
    assert nothing_made == [(0,)]


def test_register_route_still_gives_an_empty_profile(client: ApiClient):
    me, etag = profile(client)
    assert me["username"] and me["skills"] == [] and me["wiki_content"] == ""
    assert etag == '"1"'


def test_edits_need_the_current_revision(client: ApiClient):
    _, etag = profile(client)
    missing = client.patch("/api/profiles/me", json={"bio": "x"})
    assert missing.status_code == 428 and missing.json()["code"] == "if_match_required"
    garbage = client.patch("/api/profiles/me", json={"bio": "x"}, headers={"If-Match": "yesterday"})
    assert garbage.status_code == 400 and garbage.json()["code"] == "invalid_if_match"

    tab_one = client.patch(
        "/api/profiles/me",
        json={"bio": "From tab one", "skills": [{"name": "SQL", "level": "beginner"}]},
        headers={"If-Match": etag},
    )
    assert tab_one.status_code == 200, tab_one.text
    assert tab_one.json()["revision"] == 2 and tab_one.headers["ETag"] == '"2"'
    tab_two = client.patch("/api/profiles/me", json={"bio": "From tab two"}, headers={"If-Match": etag})
    assert tab_two.status_code == 412 and tab_two.json()["code"] == "revision_conflict"
    assert profile(client)[0]["bio"] == "From tab one"  # nothing silently overwritten

    null_list = client.patch("/api/profiles/me", json={"skills": None}, headers={"If-Match": '"2"'})
    assert null_list.status_code == 422
    cleared = client.patch("/api/profiles/me", json={"bio": None}, headers={"If-Match": '"2"'})
    assert cleared.status_code == 200 and cleared.json()["bio"] is None


def test_revisions_are_kept_and_restorable(client: ApiClient):
    _, etag = profile(client)
    client.patch("/api/profiles/me", json={"goals": ["Learn Rust"]}, headers={"If-Match": etag})
    client.patch("/api/profiles/me", json={"goals": ["Learn Go"]}, headers={"If-Match": '"2"'})
    revisions = client.get("/api/profiles/me/revisions").json()["items"]
    assert [r["revision"] for r in revisions] == [3, 2, 1]
    assert [r["source"] for r in revisions] == ["edit", "edit", "created"]
    assert revisions[1]["data"]["goals"] == ["Learn Rust"]

    restored = client.post("/api/profiles/me/revisions/2/restore")
    assert restored.status_code == 200
    assert restored.json()["goals"] == ["Learn Rust"] and restored.json()["revision"] == 4
    assert client.get("/api/profiles/me/revisions").json()["items"][0]["source"] == "restore:2"
    missing = client.post("/api/profiles/me/revisions/99/restore")
    assert missing.status_code == 404 and missing.json()["code"] == "revision_not_found"


def test_the_wiki_is_embedded_into_the_private_profile_collection(client: ApiClient, other_client: ApiClient):
    _, etag = profile(client)
    wiki = "# About me\n\nI keep bees on a rooftop in Lisbon and study apiculture diseases."
    saved = client.patch("/api/profiles/me", json={"wiki_content": wiki}, headers={"If-Match": etag}).json()
    document_id = saved["wiki_document_id"]
    assert document_id
    document = client.get(f"/v1/documents/{document_id}").json()
    assert document["collection"] == "profile" and not document["shared"]
    wait_job(client, document["ingest_job_id"])
    hits = client.post(
        "/v1/search", json={"query": "rooftop beekeeping", "collections": ["profile"], "k": 3}
    ).json()["items"]
    assert hits and "rooftop" in hits[0]["text"]

    # A changed wiki replaces the searchable text whole (the next generation).
    client.patch(
        "/api/profiles/me", json={"wiki_content": "I now grow tomatoes."}, headers={"If-Match": '"2"'}
    )
    document = client.get(f"/v1/documents/{document_id}").json()
    wait_job(client, document["ingest_job_id"])
    wait_until(
        lambda: (
            client.get(f"/v1/documents/{document_id}?include=chunks").json()["chunks"][0]["text"]
            == "I now grow tomatoes."
        ),
        timeout=30,
        message="the new wiki generation",
    )
    # Private: another user's search cannot name or see it.
    theirs = other_client.post("/v1/search", json={"query": "rooftop bees", "collections": ["profile"]})
    assert theirs.status_code == 404 or theirs.json()["items"] == []


def test_admins_list_read_patch_and_delete_profiles(stack: Stack, client: ApiClient, admin_client: ApiClient):
    me, _ = profile(client)
    assert client.get("/v1/admin/profiles").status_code == 403
    listed = admin_client.get("/v1/admin/profiles", params={"q": me["username"]}).json()["items"]
    assert [p["id"] for p in listed] == [me["id"]]
    page = admin_client.get("/v1/admin/profiles", params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    second = admin_client.get("/v1/admin/profiles", params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert second["items"][0]["id"] != page["items"][0]["id"]

    read = admin_client.get(f"/v1/admin/profiles/{me['id']}")
    assert read.status_code == 200 and read.headers["ETag"] == '"1"'
    patched = admin_client.patch(f"/v1/admin/profiles/{me['id']}", json={"level": "advanced"})
    assert patched.status_code == 200 and patched.json()["level"] == "advanced"
    source = client.get("/api/profiles/me/revisions").json()["items"][0]["source"]
    assert source.startswith("admin:")

    deleted = admin_client.delete(f"/v1/admin/profiles/{me['id']}")
    assert deleted.status_code == 202
    assert wait_job(admin_client, deleted.json()["job_id"])["status"] == "succeeded"
    assert client.get("/api/profiles/me").status_code == 401
    assert admin_client.get(f"/v1/admin/profiles/{me['id']}").status_code == 404


@pytest.mark.parametrize("field", ["display_name", "bio"])
def test_nul_bytes_and_huge_text_are_refused(client: ApiClient, field: str):
    _, etag = profile(client)
    nul = client.patch("/api/profiles/me", json={field: "a\u0000b"}, headers={"If-Match": etag})
    assert nul.status_code == 422
    huge = client.patch("/api/profiles/me", json={field: "x" * 1_100_000}, headers={"If-Match": etag})
    assert huge.status_code == 413
    assert profile(client)[1] == etag


def test_a_second_registration_cannot_take_a_username(stack: Stack):
    first = _signup(stack).json()
    with register(stack.api_url) as someone:
        _, etag = profile(someone)
        taken = someone.patch(
            "/api/profiles/me", json={"username": first["username"]}, headers={"If-Match": etag}
        )
        assert taken.status_code == 409 and taken.json()["code"] == "username_taken"
