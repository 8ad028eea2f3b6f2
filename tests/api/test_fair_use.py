"""Fair use on a real API process with small limits: rate limits, login throttling, quotas, earned
priority, and tokens that must expire and can be revoked."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import jwt
import pytest

from tests.api.test_errors import assert_problem
from tests.conftest import ApiClient, make_admin, register
from tests.support.receiver import Receiver
from tests.support.stack import Stack, wait_until

PASSWORD = "correct-horse-battery"
LOGIN_WINDOW_S = 20
BURST_MOST = 500  # a limit of 8 a second cannot let this many one-after-another requests pass


@pytest.fixture(scope="module")
def fair_api(stack: Stack) -> Iterator[str]:
    with stack.extra_api(
        MENTORQ_RATE_LIMIT_USER="8/second",
        MENTORQ_RATE_LIMIT_ANONYMOUS="1000/minute",
        # A window the three failed logins of the test below fit in on a loaded CI machine: at
        # 4 seconds, three password checks under load once took longer, and the first had left
        # the window before the fourth login came.
        MENTORQ_LOGIN_FAILURES_PER_ACCOUNT=f"3 per {LOGIN_WINDOW_S} seconds",
        MENTORQ_MAX_ACTIVE_JOBS_PER_USER="2",
        MENTORQ_MAX_COLLECTIONS_PER_USER="2",
        MENTORQ_REDELIVERIES_PER_HOUR="1",
    ) as url:
        yield url


@pytest.fixture
def fair_client(fair_api: str) -> Iterator[ApiClient]:
    with register(fair_api) as client:
        yield client


def _burst_until_refused(client: ApiClient) -> list[httpx.Response]:
    """Requests one after another until the first 429, at most BURST_MOST: on a loaded CI machine
    20 of them once took longer than the 8-a-second window, so a fixed 20 never reached the limit."""
    answers = []
    for _ in range(BURST_MOST):
        answers.append(client.get("/v1/kinds"))
        if answers[-1].status_code == 429:
            break
    return answers


def test_a_burst_past_the_rate_limit_gets_429_with_retry_after_then_passes(fair_client: ApiClient) -> None:
    answers = _burst_until_refused(fair_client)
    assert answers[-1].status_code == 429, f"{len(answers)} requests, none refused"
    assert all(answer.status_code == 200 for answer in answers[:-1])
    refused = answers[-1]
    body = assert_problem(refused, 429, "rate_limited")
    assert "8 requests" in body["detail"]
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 2
    assert refused.headers["RateLimit-Policy"] == '"user";q=8;w=1'
    assert refused.headers["RateLimit"].startswith('"user";r=0;t=')
    time.sleep(retry_after + 0.2)
    assert fair_client.get("/v1/kinds").status_code == 200


def test_one_user_s_burst_does_not_limit_another_user(fair_api: str) -> None:
    with register(fair_api) as noisy, register(fair_api) as quiet:
        assert _burst_until_refused(noisy)[-1].status_code == 429
        assert quiet.get("/v1/kinds").status_code == 200  # at once, while the noisy one is refused


def test_a_concurrent_burst_cannot_slip_past_the_rate_limit(stack: Stack) -> None:
    """300 requests at once, 50 allowed: every one of them is counted. (Redis's client pool used
    to hold 100 connections and raise at once past them; the limiter let those requests through
    uncounted, so a burst was how a user escaped the limit.)"""
    with stack.extra_api(MENTORQ_RATE_LIMIT_USER="50/minute") as url, register(url) as client:
        token = client.headers["Authorization"]

        async def burst() -> list[int]:
            limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
            async with httpx.AsyncClient(
                base_url=url, headers={"Authorization": token}, timeout=60, limits=limits
            ) as http:
                answers = await asyncio.gather(*(http.get("/v1/kinds") for _ in range(300)))
            return [answer.status_code for answer in answers]

        statuses = asyncio.run(burst())
    assert sorted(set(statuses)) == [200, 429]
    assert statuses.count(200) <= 50  # the registration's own requests count too


def test_unauthenticated_routes_are_limited_per_address(stack: Stack) -> None:
    with stack.extra_api(MENTORQ_RATE_LIMIT_ANONYMOUS="3/minute") as url:
        answers = [
            httpx.post(
                f"{url}/auth/register",
                json={"email": f"{uuid.uuid4().hex}@example.com", "password": PASSWORD},
            )
            for _ in range(5)
        ]
        assert [answer.status_code for answer in answers] == [201, 201, 201, 429, 429]
        assert_problem(answers[-1], 429, "rate_limited")
        assert int(answers[-1].headers["Retry-After"]) >= 1
        assert httpx.get(f"{url}/healthz").status_code == 200  # probes are never limited


def test_a_class_launching_from_one_address_is_not_held_to_the_anonymous_limit(stack: Stack) -> None:
    """Issue 51: an LMS fetches the tool's keys at every launch, and a class launches from one school
    address; the anonymous limit (3 here) is for logins and registrations, not for launches."""
    with stack.extra_api(MENTORQ_RATE_LIMIT_ANONYMOUS="3/minute", MENTORQ_RATE_LIMIT_LTI="8/minute") as url:
        keys = [httpx.get(f"{url}/lti/jwks").status_code for _ in range(10)]
        assert 429 not in keys, keys
        logins = [httpx.get(f"{url}/lti/login").status_code for _ in range(10)]
        assert logins.count(429) == 2 and 429 not in logins[:8], logins  # its own, larger budget


def test_repeated_wrong_passwords_slow_down_that_account_only_for_a_while(fair_api: str) -> None:
    with register(fair_api) as victim, register(fair_api) as bystander:
        login = f"{fair_api}/auth/jwt/login"
        wrong = [
            httpx.post(login, data={"username": victim.email, "password": "wrong-guess-1"}) for _ in range(3)
        ]
        assert [answer.status_code for answer in wrong] == [400, 400, 400]
        throttled = httpx.post(login, data={"username": victim.email, "password": PASSWORD})
        assert_problem(throttled, 429, "login_throttled")
        wait = int(throttled.headers["Retry-After"])
        assert 1 <= wait <= LOGIN_WINDOW_S  # a real user waits at most the window, never a long lock-out
        assert httpx.post(login, data={"username": bystander.email, "password": PASSWORD}).status_code == 200
        time.sleep(wait + 0.2)
        assert httpx.post(login, data={"username": victim.email, "password": PASSWORD}).status_code == 200


def test_a_user_at_the_job_cap_gets_429_while_another_user_s_job_runs(fair_api: str) -> None:
    with register(fair_api) as busy, register(fair_api) as other:
        slow = {"kind": "debug.sleep", "input": {"seconds": 3, "steps": 3}}
        first, second = busy.post("/v1/jobs", json=slow).json(), busy.post("/v1/jobs", json=slow).json()
        third = busy.post("/v1/jobs", json=slow)
        assert_problem(third, 429, "too_many_jobs")
        assert third.headers["Retry-After"]
        theirs = other.post(
            "/v1/jobs", json={"kind": "debug.sleep", "input": {}}, headers={"Prefer": "wait=30"}
        )
        assert theirs.status_code == 200 and theirs.json()["status"] == "succeeded"
        for job in (first, second):
            busy.get(f"/v1/jobs/{job['id']}", headers={"Prefer": "wait=30"})
        assert busy.post("/v1/jobs", json={"kind": "debug.sleep", "input": {}}).status_code == 202


def test_a_keyed_submit_at_the_job_cap_is_refused_and_leaves_its_key_free(
    fair_api: str, stack: Stack
) -> None:
    """A submit with an Idempotency-Key (one pipelined transaction, db/jobs.py submit_keyed_job) at
    the cap gets the same 429 as a plain one and writes nothing: once there is room, the same key
    makes the job, and a replay of it finds that job."""
    with register(fair_api) as busy:
        slow = {"kind": "debug.sleep", "input": {"seconds": 3, "steps": 3}}
        filling = [busy.post("/v1/jobs", json=slow).json() for _ in range(2)]
        key = {"Idempotency-Key": "at-the-cap"}
        assert_problem(busy.post("/v1/jobs", json=slow, headers=key), 429, "too_many_jobs")
        count = "SELECT count(*) FROM jobs WHERE owner_id = %s AND idempotency_key = 'at-the-cap'"
        assert stack.sql(count, busy.user_id) == [(0,)]
        for job in filling:
            busy.get(f"/v1/jobs/{job['id']}", headers={"Prefer": "wait=30"})
        made = busy.post("/v1/jobs", json=slow, headers=key)
        replayed = busy.post("/v1/jobs", json=slow, headers=key)
        assert made.status_code == 202, made.text
        assert (
            replayed.json()["id"] == made.json()["id"] and replayed.headers["Idempotent-Replayed"] == "true"
        )
        assert stack.sql(count, busy.user_id) == [(1,)]


def test_users_may_not_take_the_admins_priorities(fair_client: ApiClient, stack: Stack) -> None:
    response = fair_client.post("/v1/jobs", json={"kind": "debug.sleep", "input": {}, "priority": 9})
    body = assert_problem(response, 422, "priority_reserved")
    assert body["errors"][0]["path"] == "priority"
    assert (
        fair_client.post("/v1/jobs", json={"kind": "debug.sleep", "input": {}, "priority": 5}).status_code
        == 202
    )
    make_admin(stack, fair_client)
    assert (
        fair_client.post("/v1/jobs", json={"kind": "debug.sleep", "input": {}, "priority": 9}).status_code
        == 202
    )


def test_collections_have_a_quota(fair_client: ApiClient) -> None:
    for name in ("one", "two"):
        assert fair_client.post("/v1/collections", json={"name": name}).status_code == 201
    assert_problem(fair_client.post("/v1/collections", json={"name": "three"}), 429, "too_many_collections")
    upload = fair_client.post("/v1/documents", files={"files": ("a.md", b"# A")}, data={"collection": "four"})
    assert_problem(upload, 429, "too_many_collections")
    into_existing = fair_client.post(
        "/v1/documents", files={"files": ("a.md", b"# A")}, data={"collection": "one"}
    )
    assert into_existing.status_code == 202


def test_redeliveries_have_an_hourly_quota(fair_client: ApiClient) -> None:
    receiver = Receiver()
    try:
        job = fair_client.post(
            "/v1/jobs",
            json={"kind": "debug.sleep", "input": {}, "webhook": receiver.url},
            headers={"Prefer": "wait=30"},
        ).json()
        wait_until(lambda: len(receiver.received) == 1, timeout=30, message="first delivery")
        [delivery] = fair_client.get(f"/v1/jobs/{job['id']}/deliveries").json()["items"]
        wait_until(
            lambda: (
                fair_client.get(f"/v1/jobs/{job['id']}/deliveries").json()["items"][0]["status"]
                == "succeeded"
            ),
            timeout=30,
        )
        assert fair_client.post(f"/v1/deliveries/{delivery['id']}/redeliver").status_code == 200
        again = fair_client.post(f"/v1/deliveries/{delivery['id']}/redeliver")
        assert_problem(again, 429, "too_many_redeliveries")
        assert int(again.headers["Retry-After"]) > 60
    finally:
        receiver.close()


def test_logging_out_revokes_the_token_everywhere(stack: Stack) -> None:
    with register(stack.api_url) as client:
        assert client.get("/users/me").status_code == 200
        assert client.post("/auth/jwt/logout").status_code == 204
        for path in ("/users/me", "/v1/jobs", "/v1/kinds"):
            assert_problem(client.get(path), 401, "unauthorized")
        # A new login gets a new token; the old one stays refused.
        token = httpx.post(
            f"{stack.api_url}/auth/jwt/login", data={"username": client.email, "password": PASSWORD}
        ).json()["access_token"]
        assert (
            httpx.get(f"{stack.api_url}/users/me", headers={"Authorization": f"Bearer {token}"}).status_code
            == 200
        )
        assert client.get("/users/me").status_code == 401


def test_logging_out_revokes_the_cookie(stack: Stack) -> None:
    with register(stack.api_url) as client, httpx.Client(base_url=stack.api_url) as browser:
        assert (
            browser.post(
                "/auth/cookie/login", data={"username": client.email, "password": PASSWORD}
            ).status_code
            == 204
        )
        cookie = browser.cookies["mentorq_session"]
        assert browser.get("/users/me").status_code == 200
        assert browser.post("/auth/cookie/logout").status_code == 204
        replayed = httpx.get(f"{stack.api_url}/users/me", cookies={"mentorq_session": cookie})
        assert_problem(replayed, 401, "unauthorized")


def test_a_token_without_an_expiry_is_refused(stack: Stack) -> None:
    with register(stack.api_url) as client:
        claims = {"sub": client.user_id, "aud": ["fastapi-users:auth"], "jti": uuid.uuid4().hex}
        forever = jwt.encode(claims, stack.env["SECRET_KEY"], algorithm="HS256")
        answer = httpx.get(f"{stack.api_url}/users/me", headers={"Authorization": f"Bearer {forever}"})
        assert_problem(answer, 401, "unauthorized")
        with_expiry = jwt.encode(
            {**claims, "exp": int(time.time()) + 60}, stack.env["SECRET_KEY"], algorithm="HS256"
        )
        assert (
            httpx.get(
                f"{stack.api_url}/users/me", headers={"Authorization": f"Bearer {with_expiry}"}
            ).status_code
            == 200
        )
