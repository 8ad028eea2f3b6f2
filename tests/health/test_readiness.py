"""/readyz tells anyone ready or not, per component, and nothing more; /v1/admin/health tells admins
why (issue 59: the public probe named worker hosts, sandbox layers, devices and missing models' paths)."""

from __future__ import annotations

import httpx

from tests.conftest import ApiClient
from tests.support.stack import Stack

COMPONENTS = {"database", "redis", "state_redis", "workers", "mail"}


def test_the_public_probe_says_each_component_ok_or_failing_and_nothing_more(stack: Stack) -> None:
    answer = httpx.get(f"{stack.api_url}/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ready", "checks": dict.fromkeys(COMPONENTS, "ok")}
    for detail in (
        "worker@test",
        "@test",
        "sandbox",
        "seccomp",
        "devices",
        "cpu",
        "whisper",
        "pocketsphinx",
        "/",
    ):
        assert detail not in answer.text, detail


def test_admins_get_the_details(stack: Stack, admin_client: ApiClient) -> None:
    answer = admin_client.get("/v1/admin/health")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ready" and set(body["checks"]) == COMPONENTS
    workers = body["checks"]["workers"]
    assert "worker@test" in workers["hostnames"]
    assert workers["sandbox"]["worker@test"]["active"] == ["rlimits", "namespaces", "landlock", "seccomp"]
    assert workers["devices"]["worker@test"] == "cpu"
    assert workers["speech"]["worker@test"]["engine"]  # this worker takes the transcribe lane
    assert body["checks"]["state_redis"] == {"ok": True, "separate": False}  # one Redis on this stack


def test_only_admins_get_the_details(stack: Stack, client: ApiClient) -> None:
    refused = client.get("/v1/admin/health")
    assert refused.status_code == 403 and refused.json()["code"] == "admin_only", refused.text
    assert httpx.get(f"{stack.api_url}/v1/admin/health").status_code == 401


def test_a_failing_component_is_named_without_its_error(stack: Stack, admin_client: ApiClient) -> None:
    """An API whose state Redis is gone is not ready: the public probe names the component, the
    admins' report the error, and the API's log says it."""
    gone = f"unix://:pw@{stack.root}/no-such-redis.sock"
    with stack.extra_api(MENTORQ_STATE_REDIS_URL=gone) as url:
        answer = httpx.get(f"{url}/readyz")
        assert answer.status_code == 503, answer.text
        assert answer.json() == {
            "status": "not_ready",
            "checks": {**dict.fromkeys(COMPONENTS, "ok"), "state_redis": "failing"},
        }
        report = httpx.get(f"{url}/v1/admin/health", headers=admin_client.headers).json()
        assert report["status"] == "not_ready"
        assert report["checks"]["state_redis"]["ok"] is False and report["checks"]["state_redis"]["error"]
        # This API's log among those of the stack's other extra APIs (each is api-<port>.log).
        log = "".join(path.read_text() for path in stack.root.glob("api-*.log"))
        assert "not ready" in log and "state_redis" in log, log
