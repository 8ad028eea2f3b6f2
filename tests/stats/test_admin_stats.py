"""GET /v1/admin/stats on the real stack: what happened is counted, and every figure over jobs and
deliveries is read through an index (no full scan however many jobs there are)."""

from __future__ import annotations

import re

import psycopg
import pytest

from db import stats as stats_queries
from tests.ask.test_answer_cache import scripted_answer
from tests.ask.test_ask import ask, library
from tests.conftest import ApiClient
from tests.jobs.test_jobs import WAIT, submit
from tests.support.fake_ollama import FakeOllama
from tests.support.receiver import Receiver
from tests.support.stack import Stack, wait_until
from tests.webhooks.test_api import deliveries


def stats(admin_client: ApiClient) -> dict:
    response = admin_client.get("/v1/admin/stats")
    assert response.status_code == 200, response.text
    return response.json()


def kind(window: dict, name: str) -> dict:
    return window["by_kind"].get(name, {"jobs": 0, "by_status": {}})


def test_only_admins_see_the_statistics(client: ApiClient) -> None:
    response = client.get("/v1/admin/stats")
    assert response.status_code == 403 and response.json()["code"] == "admin_only"


def test_what_happened_is_counted_in_both_windows(
    client: ApiClient, admin_client: ApiClient, receiver: Receiver, fake_ollama: FakeOllama
) -> None:
    before = stats(admin_client)

    # Running now: the backlog shows it on its queue.
    running = client.post("/v1/jobs", json={"kind": "debug.sleep", "input": {"seconds": 2, "steps": 4}})
    assert running.status_code == 202
    during = stats(admin_client)
    assert sum(during["backlog"].get("cpu", {"queued": 0, "running": 0}).values()) >= 1

    # A success whose webhook is delivered, a failure with its code, an ask missed then hit.
    succeeded = client.post(
        "/v1/jobs",
        json={"kind": "debug.sleep", "input": {"seconds": 0.2}, "webhook": receiver.url},
        headers=WAIT,
    ).json()
    assert succeeded["status"] == "succeeded"
    failed = submit(client, "chat", {"prompt": "hi", "model": "no-such-model:7b"}, WAIT).json()
    assert failed["error"]["code"] == "model_not_found"
    collection, word, _ = library(client)
    question = f"How long is a {word} session?"
    scripted_answer(fake_ollama, question, word)
    assert ask(client, question, collections=[collection])["output"]["cached"] is False
    assert ask(client, question, collections=[collection])["output"]["cached"] is True
    wait_until(
        lambda: deliveries(client, succeeded["id"])[0]["status"] == "succeeded",
        timeout=30,
        message="delivered",
    )
    wait_until(
        lambda: client.get(f"/v1/jobs/{running.json()['id']}").json()["status"] == "succeeded",
        timeout=30,
        message="the long job done",
    )

    after = stats(admin_client)
    for window in ("hour", "day"):
        old, new = before[window], after[window]
        sleeps, old_sleeps = kind(new, "debug.sleep"), kind(old, "debug.sleep")
        assert sleeps["by_status"]["succeeded"] >= old_sleeps["by_status"].get("succeeded", 0) + 2
        assert 0 <= sleeps["queue_ms"]["p50"] <= sleeps["queue_ms"]["p95"]
        assert 0 <= sleeps["run_ms"]["p50"] <= sleeps["run_ms"]["p95"]
        assert new["failure_codes"]["model_not_found"] >= old["failure_codes"].get("model_not_found", 0) + 1
        assert kind(new, "chat")["by_status"]["failed"] >= kind(old, "chat")["by_status"].get("failed", 0) + 1
        assert new["cache"]["hits"] >= old["cache"]["hits"] + 1
        assert new["cache"]["misses"] >= old["cache"]["misses"] + 1
        cache = new["cache"]
        assert cache["hit_ratio"] == round(cache["hits"] / (cache["hits"] + cache["misses"]), 4)
        hooks = new["webhooks"]["by_status"]
        assert hooks["succeeded"] >= old["webhooks"]["by_status"].get("succeeded", 0) + 1
        ended = sum(hooks.get(status, 0) for status in ("succeeded", "failed", "disabled"))
        assert new["webhooks"]["success_rate"] == round(hooks["succeeded"] / ended, 4)
        assert new["jobs"] == sum(s["jobs"] for s in new["by_kind"].values())
        assert all(sum(s["by_status"].values()) == s["jobs"] for s in new["by_kind"].values())
    assert after["hour"]["jobs"] <= after["day"]["jobs"]

    library_now = after["library"]
    assert library_now["documents"] >= before["library"]["documents"] + 1
    assert library_now["chunks"] >= before["library"]["chunks"] + 1
    assert library_now["users"] >= library_now["active_users"] >= 2
    # The workers per queue are the ones the health report sees.
    ready = admin_client.get("/v1/admin/health").json()["checks"]["workers"]
    assert after["workers"]["count"] == ready["count"]
    assert sorted(after["workers"]["per_queue"]) == ready["queues"]


QUERIES_OVER_BIG_TABLES = {
    "jobs by kind": (stats_queries._JOBS_BY_KIND, "jobs"),
    "failure codes": (stats_queries._FAILURE_CODES, "jobs"),
    "cache hits": (stats_queries._CACHE_HITS, "jobs"),
    "backlog": (stats_queries._BACKLOG, "jobs"),
    "webhook deliveries": (stats_queries._WEBHOOK_DELIVERIES, "webhook_deliveries"),
}


@pytest.mark.parametrize("name", sorted(QUERIES_OVER_BIG_TABLES))
def test_each_query_can_use_an_index(stack: Stack, name: str) -> None:
    # With sequential scans priced out, the planner still picks one when no index serves the
    # query's predicate: a Seq Scan here means the query would read the whole table.
    query, table = QUERIES_OVER_BIG_TABLES[name]
    sql = re.sub(r":(\w+)", r"%(\1)s", str(query))
    windows = {"hour": "2026-01-01T01:00:00Z", "day": "2026-01-01T00:00:00Z"}
    with psycopg.connect(stack.database_url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("SET enable_seqscan = off")
        plan = "\n".join(row[0] for row in connection.execute(f"EXPLAIN {sql}", windows).fetchall())
    assert f"Seq Scan on {table}" not in plan, plan
    assert "Index" in plan, plan
