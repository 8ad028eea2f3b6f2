"""Versioned instructions: shipped defaults, new versions, the active label moved (and raced), jobs
recording the version they used, and the answer cache missing after a change."""

from __future__ import annotations

import json
import threading

from tests.ask.test_ask import ask, library
from tests.conftest import ApiClient
from tests.support.fake_ollama import FakeOllama

KINDS = {"ask", "tutor", "resources", "exercise", "grade", "progress_insight", "profile_ingest", "match"}


def test_every_kind_ships_version_one(admin_client: ApiClient, client: ApiClient):
    kinds = admin_client.get("/v1/admin/instructions").json()["items"]
    assert {item["kind"] for item in kinds} == KINDS
    assert all(item["newest_version"] >= 1 and item["active_version"] >= 1 for item in kinds)
    history = admin_client.get("/v1/admin/instructions/grade").json()
    assert history["versions"][-1]["version"] == 1 and history["versions"][-1]["note"] == "shipped default"
    assert client.get("/v1/admin/instructions").status_code == 403
    assert client.post("/v1/admin/instructions/ask", json={"text": "x"}).status_code == 403
    assert client.put("/v1/admin/instructions/ask/active", json={"version": 1}).status_code == 403
    assert admin_client.get("/v1/admin/instructions/no_such_kind").status_code == 404


def test_a_new_active_version_is_used_recorded_and_misses_the_cache(
    admin_client: ApiClient, client: ApiClient, fake_ollama: FakeOllama
):
    collection, word, _ = library(client)
    question = f"How long does a {word} session last?"
    fake_ollama.script(question, f"A {word} session lasts twenty minutes [1].")
    before = ask(client, question, collections=[collection])
    start = admin_client.get("/v1/admin/instructions/ask")
    original = start.json()["active_version"]
    assert before["instructions_version"] == original

    created = admin_client.post(
        "/v1/admin/instructions/ask", json={"text": "Answer like a pirate tutor, briefly.", "note": "test"}
    )
    assert created.status_code == 201 and created.json()["active"] is False
    version = created.json()["version"]
    try:
        moved = admin_client.put(
            "/v1/admin/instructions/ask/active",
            json={"version": version},
            headers={"If-Match": start.headers["ETag"]},
        )
        assert moved.status_code == 200 and moved.json()["active_version"] == version
        after = ask(client, question, collections=[collection])
        assert after["output"]["cached"] is False and after["instructions_version"] == version
        chat = [b for p, b in fake_ollama.bodies if p == "/api/chat" and question in json.dumps(b)][-1]
        assert chat["messages"][0]["content"].startswith("Answer like a pirate tutor")
    finally:
        rollback = admin_client.put("/v1/admin/instructions/ask/active", json={"version": original})
        assert rollback.status_code == 200
    # Back on the original version, its cached answer is served again.
    assert ask(client, question, collections=[collection])["output"]["cached"] is True
    history = admin_client.get("/v1/admin/instructions/ask").json()
    assert [m["to_version"] for m in history["label_moves"][:2]] == [original, version]
    assert {v["version"] for v in history["versions"]} >= {1, version}


def test_two_admins_moving_the_label_at_once(admin_client: ApiClient, stack):
    from tests.conftest import make_admin, register

    second = make_admin(stack, register(stack.api_url))
    start = admin_client.get("/v1/admin/instructions/grade")
    original, etag = start.json()["active_version"], start.headers["ETag"]
    versions = [
        admin_client.post(
            "/v1/admin/instructions/grade", json={"text": f"Grade strictly, variant {n}."}
        ).json()["version"]
        for n in (1, 2)
    ]
    results: list[int] = []

    def move(api: ApiClient, version: int) -> None:
        response = api.put(
            "/v1/admin/instructions/grade/active", json={"version": version}, headers={"If-Match": etag}
        )
        results.append(response.status_code)

    threads = [
        threading.Thread(target=move, args=pair)
        for pair in ((admin_client, versions[0]), (second, versions[1]))
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [200, 412]
        history = admin_client.get("/v1/admin/instructions/grade").json()
        assert history["active_version"] in versions
        assert {v["version"] for v in history["versions"]} >= {1, *versions}
        assert history["label_moves"][0]["to_version"] == history["active_version"]
    finally:
        admin_client.put("/v1/admin/instructions/grade/active", json={"version": original})
        second.close()
