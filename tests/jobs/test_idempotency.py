"""Idempotency-Key as the IETF draft says: replay, mismatch (422) and in-flight (409). Such a submit
is one pipelined transaction on the driver (db/jobs.py submit_keyed_job); its admission in a capped
lane is tested in tests/db/test_finish_lock.py, its quota in tests/api/test_fair_use.py."""

from __future__ import annotations

import psycopg

from tests.conftest import ApiClient
from tests.support.stack import Stack

BODY = {"kind": "debug.sleep", "input": {"seconds": 0}}


def test_same_key_and_body_returns_the_original_job(client: ApiClient, stack: Stack) -> None:
    first = client.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": '"order-1"'})
    again = client.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": '"order-1"'})
    assert first.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert stack.sql("SELECT count(*) FROM jobs WHERE owner_id = %s", client.user_id)[0][0] == 1


def test_only_a_keyed_submit_keeps_its_request_s_fingerprint(client: ApiClient, stack: Stack) -> None:
    keyed = client.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": "order-fp"}).json()["id"]
    plain = client.post("/v1/jobs", json=BODY).json()["id"]
    fingerprints = dict(
        stack.sql("SELECT id::text, request_fingerprint FROM jobs WHERE id IN (%s, %s)", keyed, plain)
    )
    assert len(fingerprints[keyed]) == 64  # a sha256, hex
    assert fingerprints[plain] is None  # never compared: nothing can replay a job without a key


def test_same_key_with_another_body_is_422(client: ApiClient) -> None:
    client.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": "order-2"})
    other = client.post(
        "/v1/jobs", json={**BODY, "input": {"seconds": 1}}, headers={"Idempotency-Key": "order-2"}
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


def test_keys_are_per_user(client: ApiClient, other_client: ApiClient) -> None:
    mine = client.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": "shared-key"}).json()
    theirs = other_client.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": "shared-key"}).json()
    assert mine["id"] != theirs["id"]


def test_a_request_in_flight_with_the_same_key_is_409(client: ApiClient, stack: Stack) -> None:
    # Hold the very lock a first request holds between its check and its commit.
    with psycopg.connect(stack.database_url.replace("+psycopg", "")) as connection:
        connection.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{client.user_id}:in-flight",)
        )
        response = client.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": "in-flight"})
        assert response.status_code == 409 and response.json()["code"] == "idempotency_request_in_flight"
    # The refused request wrote nothing; once the first request is gone, the key works.
    count = "SELECT count(*) FROM jobs WHERE owner_id = %s AND idempotency_key = 'in-flight'"
    assert stack.sql(count, client.user_id) == [(0,)]
    assert client.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": "in-flight"}).status_code == 202
    assert stack.sql(count, client.user_id) == [(1,)]
