"""One run of a source at a time: a second one is recorded as skipped; a redelivered job takes its
own run over; a run left `running` by a job that ended (a crash) is closed, never blocking the source."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tests.conftest import ApiClient
from tests.sources.conftest import create_source, run_source, shared_collection, wait_job
from tests.support.site import Site, html
from tests.support.stack import Stack, wait_until


def fake_running_job(stack: Stack, owner_id: str) -> str:
    """A job row that looks alive to everyone (running, fresh heartbeat) and is run by no worker."""
    job_id = str(uuid.uuid4())
    stack.sql(
        "INSERT INTO jobs (id, kind, owner_id, status, input, attempts, max_attempts, queue, priority, "
        "heartbeat_at, deadline_at) VALUES (%s, 'source_run', %s, 'running', '{}', 1, 3, 'io', 0, "
        "now() + interval '1 hour', now() + interval '1 hour')",
        job_id,
        owner_id,
    )
    return job_id


def running_row(stack: Stack, source_id: str, job_id: str | None) -> str:
    run_id = str(uuid.uuid4())
    stack.sql(
        "INSERT INTO source_runs (id, source_id, job_id, trigger, status) "
        "VALUES (%s, %s, %s, 'manual', 'running')",
        run_id,
        source_id,
        job_id,
    )
    return run_id


def runs_of(stack: Stack, source_id: str) -> list[tuple]:
    return stack.sql(
        "SELECT id::text, job_id::text, status, error->>'code', added FROM source_runs WHERE source_id = %s "
        "ORDER BY started_at",
        source_id,
    )


def test_a_run_while_another_runs_is_skipped_and_a_dead_runs_row_does_not_block(
    admin_client: ApiClient, stack: Stack, site: Site
) -> None:
    page = site.page("/p", html("Page", "Concrete examples make abstractions stick."))
    source = create_source(admin_client, shared_collection(admin_client), kind="page", location=page)
    other_job = fake_running_job(stack, admin_client.user_id)
    other_run = running_row(stack, source["id"], other_job)
    with pytest.raises(psycopg.errors.UniqueViolation):  # the database admits one running run
        running_row(stack, source["id"], other_job)

    job, run = run_source(admin_client, source)
    assert job["status"] == "succeeded"
    assert job["output"]["skipped"] is True and job["output"]["reason"] == "already_running"
    assert run["status"] == "skipped" and run["error"]["code"] == "already_running"
    assert site.hits["/p"] == 0  # the skipped run fetched nothing
    assert stack.sql("SELECT status FROM source_runs WHERE id = %s", other_run) == [("running",)]

    # The other run's job ends without closing its run (a crash): the next run closes it and runs.
    stack.sql("UPDATE jobs SET status = 'failed', completed_at = now() WHERE id = %s", other_job)
    job, run = run_source(admin_client, source)
    assert job["status"] == "succeeded" and run["status"] == "succeeded" and run["added"] == 1
    assert stack.sql("SELECT status, error->>'code' FROM source_runs WHERE id = %s", other_run) == [
        ("failed", "run_abandoned")
    ]


def test_a_redelivered_job_takes_over_its_own_running_row(
    admin_client: ApiClient, stack: Stack, site: Site
) -> None:
    page = site.page("/p", html("Page", "Self-explanation deepens understanding."))
    source = create_source(admin_client, shared_collection(admin_client), kind="page", location=page)
    # A job whose first delivery opened its run and died: its row is running, the job queued again
    # and never sent (the reconciler sends it).
    job_id = str(uuid.uuid4())
    stack.sql(
        "INSERT INTO jobs (id, kind, owner_id, status, input, attempts, max_attempts, queue, priority, "
        "created_at) VALUES (%s, 'source_run', %s, 'queued', %s, 1, 3, 'io', 0, now() - interval '1 minute')",
        job_id,
        admin_client.user_id,
        f'{{"source_id": "{source["id"]}", "trigger": "manual"}}',
    )
    run_id = running_row(stack, source["id"], job_id)
    job = wait_job(admin_client, job_id)
    assert job["status"] == "succeeded" and job["output"]["run_id"] == run_id
    assert runs_of(stack, source["id"]) == [(run_id, job_id, "succeeded", None, 1)]


def test_beat_closes_a_running_row_whose_job_is_gone(
    admin_client: ApiClient, stack: Stack, site: Site
) -> None:
    page = site.page("/p", html("Page", "Analogies transfer structure."))
    source = create_source(admin_client, shared_collection(admin_client), kind="page", location=page)
    orphan = running_row(stack, source["id"], None)  # its job was deleted (retention, say)
    wait_until(
        lambda: stack.sql("SELECT status FROM source_runs WHERE id = %s", orphan) == [("failed",)],
        timeout=30,
        message="beat to close the orphaned run",
    )
    detail = admin_client.get(f"/v1/admin/sources/{source['id']}").json()
    assert detail["runs"][0]["error"]["code"] == "run_abandoned" and detail["consecutive_failures"] == 1


def test_a_canceled_run_stops_between_items_and_is_not_counted_as_a_failure(
    admin_client: ApiClient, stack: Stack, site: Site
) -> None:
    slow = [f"/slow/{i}" for i in range(10)]
    for path in slow:
        site.page(path, html("Slow", "Each answer waits until the fetch gives up."))
    site.hold.update(slow)
    feed = site.feed("/feed.xml", [site.url(path) for path in slow])
    source = create_source(admin_client, shared_collection(admin_client), kind="feed", location=feed)
    submitted = admin_client.post(f"/v1/admin/sources/{source['id']}/run").json()
    wait_until(lambda: site.hits["/slow/0"] == 1, timeout=30, message="the run to reach its first item")
    assert admin_client.post(f"/v1/jobs/{submitted['id']}/cancel").status_code == 200
    wait_until(
        lambda: (
            stack.sql("SELECT status FROM source_runs WHERE job_id = %s", submitted["id"]) == [("failed",)]
        ),
        timeout=30,
        message="the canceled run to close",
    )
    [(code,)] = stack.sql("SELECT error->>'code' FROM source_runs WHERE job_id = %s", submitted["id"])
    assert code == "canceled"
    assert sum(site.hits[path] for path in slow) < len(slow)  # it stopped, it did not go on
    assert admin_client.get(f"/v1/admin/sources/{source['id']}").json()["consecutive_failures"] == 0


def test_two_live_runs_of_one_source_one_runs_and_the_other_is_skipped(
    admin_client: ApiClient, stack: Stack, site: Site
) -> None:
    """Two real `source_run` jobs at once on the io worker's threads: the first holds its page
    fetch open, the second arrives while it runs and is recorded as skipped without fetching."""
    page = site.page("/held", html("Held", "Worked examples help novices more than problem solving."))
    source = create_source(admin_client, shared_collection(admin_client), kind="page", location=page)
    site.hold.add("/held")
    first = admin_client.post(f"/v1/admin/sources/{source['id']}/run").json()
    wait_until(lambda: site.hits["/held"] == 1, timeout=60, message="the first run fetching its page")

    second = wait_job(admin_client, admin_client.post(f"/v1/admin/sources/{source['id']}/run").json()["id"])
    assert second["status"] == "succeeded"
    assert second["output"]["skipped"] is True and second["output"]["reason"] == "already_running"
    assert site.hits["/held"] == 1  # the skipped run fetched nothing

    site.release.set()
    first = wait_job(admin_client, first["id"])
    assert first["status"] == "succeeded" and first["output"]["added"] == 1
    assert sorted(status for _, _, status, _, _ in runs_of(stack, source["id"])) == ["skipped", "succeeded"]
    assert site.hits["/held"] == 1
