"""Bad input answers the right status with a stable problem+json `code`, and nothing is queued."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ApiClient
from tests.support.stack import Stack

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == code and body["status"] == status
    assert "Traceback" not in response.text
    return body


def job_count(stack: Stack, client: ApiClient) -> int:
    return stack.sql("SELECT count(*) FROM jobs WHERE owner_id = %s", client.user_id)[0][0]


def test_unknown_kind(client: ApiClient, stack: Stack) -> None:
    body = assert_problem(
        client.post("/v1/jobs", json={"kind": "teleport", "input": {}}), 422, "unknown_kind"
    )
    assert "chat" in body["detail"]
    assert job_count(stack, client) == 0


def test_input_breaking_the_kind_schema_names_the_field(client: ApiClient, stack: Stack) -> None:
    response = client.post(
        "/v1/jobs", json={"kind": "chat", "input": {"messages": [{"role": "wizard", "content": "hi"}]}}
    )
    body = assert_problem(response, 422, "invalid_input")
    assert "input.messages[0].role" in [error["path"] for error in body["errors"]]
    body = assert_problem(
        client.post("/v1/jobs", json={"kind": "embed", "input": {"texts": []}}), 422, "invalid_input"
    )
    assert body["errors"][0]["path"] == "input.texts"
    assert_problem(client.post("/v1/jobs", json={"kind": "chat", "input": {}}), 422, "invalid_input")
    assert job_count(stack, client) == 0


def test_malformed_json(client: ApiClient) -> None:
    response = client.post(
        "/v1/jobs", content=b'{"kind": "chat", "input": ', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "malformed_json")


def test_envelope_errors_are_validation_errors(client: ApiClient) -> None:
    body = assert_problem(client.post("/v1/jobs", json={"input": {}}), 422, "validation_error")
    assert body["errors"][0]["path"] == "kind"


def test_body_over_the_limit_is_413_with_or_without_content_length(client: ApiClient, stack: Stack) -> None:
    huge = b'{"kind": "chat", "input": {"prompt": "' + b"x" * 1_100_000 + b'"}}'
    assert_problem(
        client.post("/v1/jobs", content=huge, headers={"content-type": "application/json"}),
        413,
        "payload_too_large",
    )

    def chunks():
        for start in range(0, len(huge), 65536):
            yield huge[start : start + 65536]

    streamed = client.post("/v1/jobs", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(streamed, 413, "payload_too_large")
    assert job_count(stack, client) == 0


@pytest.mark.parametrize("key", ['""', '"unterminated', "has space", '"' + "k" * 300 + '"', "é"])
def test_malformed_idempotency_key(client: ApiClient, key: str) -> None:
    response = client.post(
        "/v1/jobs",
        json={"kind": "debug.sleep", "input": {}},
        headers={"Idempotency-Key": key.encode("utf-8")},
    )
    assert_problem(response, 400, "invalid_idempotency_key")


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic Zm9vOmJhcg=="}]
)
def test_missing_or_bad_token_is_401(stack: Stack, headers: dict) -> None:
    for method, path in (
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs"),
        ("GET", "/v1/kinds"),
        ("GET", "/users/me"),
    ):
        response = httpx.request(
            method, f"{stack.api_url}{path}", headers=headers, json={"kind": "chat", "input": {}}
        )
        assert_problem(response, 401, "unauthorized")


def test_cancel_of_a_finished_job_is_409(client: ApiClient) -> None:
    job = client.post(
        "/v1/jobs", json={"kind": "debug.sleep", "input": {}}, headers={"Prefer": "wait=30"}
    ).json()
    assert job["status"] == "succeeded"
    assert_problem(client.post(f"/v1/jobs/{job['id']}/cancel"), 409, "job_not_cancelable")


def test_bad_cursor_and_unknown_route(client: ApiClient) -> None:
    assert_problem(client.get("/v1/jobs", params={"cursor": "!!!"}), 400, "invalid_cursor")
    assert_problem(client.get("/v1/nowhere"), 404, "not_found")


def test_registration_errors_are_problems(stack: Stack, client: ApiClient) -> None:
    response = httpx.post(
        f"{stack.api_url}/auth/register", json={"email": client.email, "password": "another-password"}
    )
    assert_problem(response, 400, "register_user_already_exists")
    response = httpx.post(
        f"{stack.api_url}/auth/register", json={"email": "short@example.com", "password": "short"}
    )
    assert response.status_code == 400 and response.json()["code"] == "register_invalid_password"


def test_a_deadlock_victim_is_a_retryable_503_database_busy_not_database_unavailable() -> None:
    """PostgreSQL rolling one request back in a conflict says nothing about its availability."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from psycopg import errors as pg
    from sqlalchemy.exc import OperationalError

    from api.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/conflict")
    async def conflict() -> None:
        raise OperationalError("DELETE FROM documents", {}, pg.DeadlockDetected("deadlock detected"))

    @app.get("/down")
    async def down() -> None:
        raise OperationalError("SELECT 1", {}, pg.OperationalError("connection refused"))

    with TestClient(app) as http:
        busy = assert_problem(http.get("/conflict"), 503, "database_busy")
        assert "nothing was done" in busy["detail"] and "retry" in busy["detail"]
        assert http.get("/conflict").headers["Retry-After"] == "1"
        assert_problem(http.get("/down"), 503, "database_unavailable")
