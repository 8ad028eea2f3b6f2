"""Learning sessions on the real stack: what was done in one, ending one, idle ones expiring."""

from __future__ import annotations

from tests.conftest import ApiClient
from tests.progress.test_progress import record
from tests.support.stack import Stack


def test_sessions_group_what_was_done_in_them(client: ApiClient, other_client: ApiClient):
    created = client.post("/api/sessions", json={"title": "Evening study", "topic": "SQL joins"})
    assert created.status_code == 201 and created.json()["status"] == "open"
    session_id = created.json()["id"]
    event = record(client, completed_task="Join drills", skills=["sql"], score=0.7, session_id=session_id)
    detail = client.get(f"/api/sessions/{session_id}").json()
    assert [e["id"] for e in detail["progress"]] == [event["event"]["id"]]
    assert [j["id"] for j in detail["jobs"]] == [event["job"]["id"]]
    assert detail["jobs"][0]["session_id"] == session_id
    assert other_client.get(f"/api/sessions/{session_id}").status_code == 404
    assert client.get("/api/sessions").json()["items"][0]["id"] == session_id

    ended = client.post(f"/api/sessions/{session_id}/end")
    assert ended.status_code == 200 and ended.json()["status"] == "ended"
    closed = client.post("/api/profiles/progress", json={"completed_task": "late", "session_id": session_id})
    assert closed.status_code == 409 and closed.json()["code"] == "session_closed"
    assert client.get("/api/sessions/not-a-uuid").status_code == 404


def test_idle_sessions_expire(stack: Stack, client: ApiClient):
    session_id = client.post("/api/sessions", json={}).json()["id"]
    stack.sql(
        "UPDATE learning_sessions SET last_activity_at = now() - interval '3 hours' WHERE id = %s", session_id
    )
    assert client.get(f"/api/sessions/{session_id}").json()["status"] == "expired"
    closed = client.post("/api/profiles/progress", json={"completed_task": "x", "session_id": session_id})
    assert closed.status_code == 409 and closed.json()["code"] == "session_closed"
