"""The job API over real HTTP, against real PostgreSQL, Redis and Celery worker processes."""

from __future__ import annotations

import uuid

from tests.conftest import ApiClient, make_admin
from tests.support.stack import Stack

WAIT = {"Prefer": "wait=30"}


def submit(client: ApiClient, kind: str, input: dict, headers: dict | None = None, **extra):
    return client.post("/v1/jobs", json={"kind": kind, "input": input, **extra}, headers=headers or {})


def test_chat_job_runs_to_success_and_reports_metrics(client: ApiClient) -> None:
    response = submit(client, "chat", {"prompt": "Say hello"}, WAIT)
    assert response.status_code == 200, response.text
    job = response.json()
    assert response.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert response.headers["Preference-Applied"] == "wait=30"
    assert job["status"] == "succeeded", job
    assert job["output"]["text"]
    assert job["output"]["provider"] == "ollama"
    assert job["attempts"] == 1
    assert job["metrics"]["queue_ms"] >= 0 and job["metrics"]["run_ms"] >= 0
    assert job["urls"] == {
        "get": f"/v1/jobs/{job['id']}",
        "cancel": f"/v1/jobs/{job['id']}/cancel",
        "events": f"/v1/jobs/{job['id']}/events",
        "deliveries": f"/v1/jobs/{job['id']}/deliveries",
    }


def test_submit_without_wait_answers_202_and_polling_sees_the_result(client: ApiClient) -> None:
    response = submit(client, "chat", {"messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert response.json()["status"] in ("queued", "running", "succeeded")
    final = client.get(f"/v1/jobs/{job_id}", headers=WAIT).json()
    assert final["status"] == "succeeded"


def test_chat_with_json_schema_returns_parsed_json(client: ApiClient) -> None:
    schema = {
        "type": "object",
        "properties": {"topic": {"type": "string"}, "minutes": {"type": "integer"}},
        "required": ["topic", "minutes"],
    }
    job = submit(client, "chat", {"prompt": "Plan a study session", "format": schema}, WAIT).json()
    assert job["status"] == "succeeded", job
    assert isinstance(job["output"]["json"]["topic"], str)
    assert isinstance(job["output"]["json"]["minutes"], int)


def test_unknown_model_fails_with_model_not_found(client: ApiClient) -> None:
    job = submit(client, "chat", {"prompt": "hi", "model": "no-such-model:7b"}, WAIT).json()
    assert job["status"] == "failed"
    assert job["error"]["code"] == "model_not_found"


def test_embed_job_returns_normalized_vectors(client: ApiClient) -> None:
    job = submit(
        client, "embed", {"texts": ["spaced repetition", "active recall"]}, {"Prefer": "wait=60"}
    ).json()
    assert job["status"] == "succeeded", job
    output = job["output"]
    assert output["dim"] == 384 and len(output["vectors"]) == 2
    norm = sum(x * x for x in output["vectors"][0]) ** 0.5
    assert abs(norm - 1.0) < 1e-3


def test_list_is_newest_first_with_cursor_pagination_and_filters(client: ApiClient) -> None:
    ids = [submit(client, "debug.sleep", {"seconds": 0}).json()["id"] for _ in range(5)]
    first = client.get("/v1/jobs", params={"limit": 2, "kind": "debug.sleep"}).json()
    second = client.get(
        "/v1/jobs", params={"limit": 2, "kind": "debug.sleep", "cursor": first["next_cursor"]}
    ).json()
    third = client.get(
        "/v1/jobs", params={"limit": 2, "kind": "debug.sleep", "cursor": second["next_cursor"]}
    ).json()
    seen = [job["id"] for page in (first, second, third) for job in page["items"]]
    assert seen == list(reversed(ids))
    assert third["next_cursor"] is None
    assert client.get("/v1/jobs", params={"kind": "embed-nothing"}).json()["items"] == []


def test_users_see_only_their_own_jobs(client: ApiClient, other_client: ApiClient) -> None:
    job_id = submit(client, "debug.sleep", {"seconds": 0}).json()["id"]
    for response in (
        other_client.get(f"/v1/jobs/{job_id}"),
        other_client.post(f"/v1/jobs/{job_id}/cancel"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "job_not_found"
    assert job_id not in [job["id"] for job in other_client.get("/v1/jobs").json()["items"]]


def test_admin_sees_every_job(stack: Stack, client: ApiClient, other_client: ApiClient) -> None:
    job_id = submit(client, "debug.sleep", {"seconds": 0}).json()["id"]
    make_admin(stack, other_client)
    assert other_client.get(f"/v1/jobs/{job_id}").status_code == 200


def test_kinds_lists_schemas(client: ApiClient) -> None:
    kinds = {kind["name"]: kind for kind in client.get("/v1/kinds").json()["items"]}
    assert {"chat", "embed"} <= set(kinds)
    assert kinds["chat"]["queue"] == "llm" and kinds["embed"]["queue"] == "embed"
    assert "prompt" in kinds["chat"]["input_schema"]["properties"]
    assert "vectors" in kinds["embed"]["output_schema"]["properties"]


def test_models_lists_both_providers(client: ApiClient) -> None:
    models = client.get("/v1/models").json()
    providers = {model["provider"] for model in models["llm"]}
    assert {"local", "ollama"} <= providers
    assert any(model["name"] == "all-MiniLM-L6-v2" for model in models["embedding"])


def test_the_health_report_details_each_dependency(admin_client: ApiClient) -> None:
    body = admin_client.get("/v1/admin/health").json()
    assert body["status"] == "ready", body
    assert body["checks"]["workers"]["count"] >= 1
    assert set(body["checks"]["workers"]["queues"]) >= {"llm", "embed", "query", "cpu", "io", "maintenance"}
    # Each worker that runs code says which code-sandbox layers its host applies (all four on this
    # kernel); the io worker runs none, so it does not probe them and is not listed.
    assert "worker@test" in body["checks"]["workers"]["sandbox"]
    assert "worker-io@test" in body["checks"]["workers"]["hostnames"]
    assert "worker-io@test" not in body["checks"]["workers"]["sandbox"]
    for report in body["checks"]["workers"]["sandbox"].values():
        assert report == {"active": ["rlimits", "namespaces", "landlock", "seccomp"], "missing": []}


def test_unknown_job_id_and_garbage_id_are_404(client: ApiClient) -> None:
    assert client.get(f"/v1/jobs/{uuid.uuid4()}").json()["code"] == "job_not_found"
    assert client.get("/v1/jobs/not-a-uuid").status_code == 404
