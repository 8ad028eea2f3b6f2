"""A user takes their data and leaves: the export holds everything, the deletion leaves nothing."""

from __future__ import annotations

import json
import time
import uuid

import httpx

from tests.conftest import ApiClient, register
from tests.profiles.support import profile, wait_job
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack

# Every table holding a user's rows, and the column naming the user.
USER_TABLES = {
    "profiles": "user_id",
    "progress_events": "user_id",
    "learning_sessions": "user_id",
    "skill_mastery": "user_id",
    "review_cards": "user_id",
    "exercises": "owner_id",
    "submissions": "user_id",
    "documents": "owner_id",
    "collections": "owner_id",
    "jobs": "owner_id",
    "conversations": "owner_id",
    "targets": "owner_id",
    "matches": "owner_id",
    "answer_cache": "owner_id",
    "webhook_secrets": "user_id",
    "revoked_tokens": "user_id",
    "account_mails": "user_id",
    "users": "id",
}


def _activity(client: ApiClient, fake_ollama: FakeOllama) -> dict:
    _, etag = profile(client)
    client.patch("/api/profiles/me", json={"wiki_content": "I study Latin."}, headers={"If-Match": etag})
    session_id = client.post("/api/sessions", json={"title": "Latin"}).json()["id"]
    client.post(
        "/api/profiles/progress",
        json={"completed_task": "Declensions", "skills": ["latin"], "score": 0.8, "session_id": session_id},
    )
    document = client.post(
        "/v1/documents/text", json={"title": "notes", "text": "Latin notes: first declension."}
    ).json()
    wait_job(client, document["job"]["id"])
    chat = client.post(
        "/v1/jobs",
        json={"kind": "chat", "input": {"prompt": "hi"}, "webhook": "http://127.0.0.1:9/hook"},
        headers={"Prefer": "wait=20"},
    ).json()
    conversation = client.post("/api/conversations", json={"title": "Latin help"}).json()["id"]
    tutor = client.post(
        f"/api/conversations/{conversation}/messages", json={"content": "What is a declension?"}
    )
    wait_job(client, tutor.json()["id"])
    marker = uuid.uuid4().hex
    quote = "You must read Latin every day"
    fake_ollama.script(
        marker, json.dumps({"requirements": [{"skill": "Latin", "importance": "must", "quote": quote}]})
    )
    target = {"title": "Latin", "text": f"Reader {marker}.\n{quote}."}
    match = client.post("/api/matches", json={"target": target})
    assert wait_job(client, match.json()["job"]["id"])["status"] == "succeeded"
    # The match's plan starts a resources and an exercise job for its gap: they end before the
    # export is read, so that what they made is in it (or not) for certain, not by timing.
    plan = client.get(f"/api/matches/{match.json()['id']}").json()["plan"]
    planned = [item[key] for item in plan for key in ("resources_job", "exercise_job") if item[key]]
    ended = [wait_job(client, str(job["job_id"])) for job in planned if job["job_id"]]
    exercise_ids = {
        job["output"]["exercise_id"]
        for job in ended
        if job["kind"] == "exercise" and job["status"] == "succeeded"
    }
    return {
        "exercise_ids": exercise_ids,
        "match_id": match.json()["id"],
        "session_id": session_id,
        "document_id": document["document"]["id"],
        "chat_id": chat["id"],
        "conversation_id": conversation,
    }


def test_export_holds_everything_about_the_user(client: ApiClient, fake_ollama: FakeOllama):
    made = _activity(client, fake_ollama)
    response = client.get("/api/profiles/me/export")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    export = response.json()
    assert export["account"]["email"] == client.email
    assert export["profile"]["wiki_content"] == "I study Latin."
    assert [r["revision"] for r in export["revisions"]] == [2, 1]
    assert [e["completed_task"] for e in export["progress"]["events"]] == ["Declensions"]
    assert export["progress"]["mastery"][0]["skill"] == "latin"
    # Every review card, not only those due now (a correct answer puts its card in the future).
    assert [c["label"] for c in export["progress"]["review_cards"]] == ["Declensions"]
    # The user made none; the match's plan made one for the gap, if its job succeeded.
    assert {e["id"] for e in export["exercises"]} == made["exercise_ids"] and export["submissions"] == []
    assert [s["id"] for s in export["sessions"]] == [made["session_id"]]
    assert made["document_id"] in {d["id"] for d in export["documents"]}
    assert "profile" in {d["collection"] for d in export["documents"]}
    assert made["chat_id"] in {j["id"] for j in export["jobs"]}
    [conversation] = export["conversations"]
    assert conversation["id"] == made["conversation_id"]
    assert [m["id"] for m in export["matches"]] == [made["match_id"]]
    assert [t["title"] for t in export["targets"]] == ["Latin"]
    assert [m["role"] for m in conversation["messages"]] == ["user", "assistant"]


def test_deleting_the_account_leaves_nothing_and_touches_no_one_else(
    stack: Stack, client: ApiClient, other_client: ApiClient, admin_client: ApiClient, fake_ollama: FakeOllama
):
    made = _activity(client, fake_ollama)
    for table in ("match_scores", "match_gaps"):
        assert stack.sql(f"SELECT count(*) FROM {table} WHERE match_id = %s", made["match_id"]) == [(1,)]
    mine = client.post(
        "/v1/jobs", json={"kind": "debug.sleep", "input": {"seconds": 3.5, "steps": 35}}
    ).json()
    theirs = other_client.post(
        "/v1/jobs", json={"kind": "debug.sleep", "input": {"seconds": 2, "steps": 10}}
    ).json()
    deadline = time.monotonic() + 20
    while client.get(f"/v1/jobs/{mine['id']}").json()["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.05)

    # A verification message owed to the account (the shared stack prints it to the io worker's log).
    asked = httpx.post(f"{stack.api_url}/auth/request-verify-token", json={"email": client.email})
    assert asked.status_code == 202
    assert stack.sql("SELECT count(*) FROM account_mails WHERE user_id = %s", client.user_id) == [(1,)]

    deleted = client.delete("/api/profiles/me")
    assert deleted.status_code == 202 and deleted.json()["status"] == "deleting"
    assert client.get("/api/profiles/me").status_code == 401  # refused at once, before the job runs
    job = wait_job(admin_client, deleted.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert job["output"]["canceled_jobs"] >= 1 and job["output"]["deleted"]["users"] == 1
    assert job["output"]["deleted"]["documents"] >= 2  # the upload and the profile wiki
    assert job["output"]["deleted"]["account_mails"] == 1

    for table, column in USER_TABLES.items():
        rows = stack.sql(f"SELECT count(*) FROM {table} WHERE {column} = %s", client.user_id)
        assert rows == [(0,)], f"{table} still holds rows of the deleted user"
    for table in ("match_scores", "match_gaps"):
        assert stack.sql(f"SELECT count(*) FROM {table} WHERE match_id = %s", made["match_id"]) == [(0,)]
    assert stack.sql(
        "SELECT count(*) FROM jobs WHERE input->>'user_id' = %s AND owner_id IS NOT NULL", client.user_id
    ) == [(0,)]
    with register(stack.api_url, email=client.email) as again:  # the e-mail is free again
        assert profile(again)[0]["skills"] == []

    assert wait_job(other_client, theirs["id"])["status"] == "succeeded"
    assert other_client.get("/api/profiles/me").status_code == 200
