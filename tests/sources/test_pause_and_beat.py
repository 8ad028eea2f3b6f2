"""Beat runs due sources by their cron, once per due time however late; N failed runs in a row
pause a source, beat leaves it alone, and resuming it clears the streak."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import ApiClient
from tests.sources.conftest import create_source, run_source, shared_collection, wait_job
from tests.support.site import Site, html
from tests.support.stack import Stack, wait_until

PAUSE_AFTER = 3  # MENTORQ_SOURCE_PAUSE_AFTER_FAILURES' default


def scheduled_runs(stack: Stack, source_id: str) -> list[tuple]:
    return stack.sql(
        "SELECT job_id::text, status FROM source_runs WHERE source_id = %s AND trigger = 'schedule'",
        source_id,
    )


def test_beat_runs_a_due_source_once_and_moves_its_next_run_to_the_next_cron_time(
    admin_client: ApiClient, stack: Stack, site: Site
) -> None:
    page = site.page("/p", html("Page", "Beat ran this."))
    source = create_source(
        admin_client, shared_collection(admin_client), kind="page", location=page, schedule="0 * * * *"
    )
    # Beat was down for five hours: five hourly times were missed.
    stack.sql("UPDATE sources SET next_run_at = now() - interval '5 hours' WHERE id = %s", source["id"])
    wait_until(lambda: scheduled_runs(stack, source["id"]), timeout=30, message="beat to run the source")
    [(job_id, _)] = scheduled_runs(stack, source["id"])
    job = wait_job(admin_client, job_id)
    assert job["status"] == "succeeded" and job["input"]["trigger"] == "schedule"
    detail = admin_client.get(f"/v1/admin/sources/{source['id']}").json()
    next_run = datetime.fromisoformat(detail["next_run_at"])
    now = datetime.now(UTC)
    # Advanced past now in the transaction that submitted the run: the missed times run once, not five times.
    assert now < next_run <= now + timedelta(hours=1) and next_run.minute == 0
    assert len(scheduled_runs(stack, source["id"])) == 1


def test_failing_runs_pause_the_source_beat_skips_it_and_resuming_clears_the_streak(
    admin_client: ApiClient, stack: Stack, site: Site
) -> None:
    broken = site.status("/broken", 500)
    collection = shared_collection(admin_client)
    source = create_source(admin_client, collection, kind="page", location=broken)
    for attempt in range(1, PAUSE_AFTER + 1):
        job, run = run_source(admin_client, source)
        assert job["error"]["code"] == "url_http_error" and run["status"] == "failed"
        detail = admin_client.get(f"/v1/admin/sources/{source['id']}").json()
        assert detail["consecutive_failures"] == attempt
        assert detail["paused"] is (attempt == PAUSE_AFTER)
    assert "3 failed runs in a row" in detail["paused_reason"] and "url_http_error" in detail["paused_reason"]
    listed = {item["id"]: item for item in admin_client.get("/v1/admin/sources").json()["items"]}
    assert listed[source["id"]]["paused"] is True and listed[source["id"]]["last_run"]["status"] == "failed"

    # Both due; beat submits the control source's run and not the paused one's.
    control = create_source(
        admin_client, collection, kind="page", location=site.page("/ok", html("Ok", "Fine.")), name="control"
    )
    stack.sql(
        "UPDATE sources SET next_run_at = now() - interval '1 minute' WHERE id IN (%s, %s)",
        source["id"],
        control["id"],
    )
    wait_until(lambda: scheduled_runs(stack, control["id"]), timeout=30, message="beat to run the control")
    assert scheduled_runs(stack, source["id"]) == []

    site.page("/broken", html("Fixed", "The page works again."))
    resumed = admin_client.patch(f"/v1/admin/sources/{source['id']}", json={"paused": False}).json()
    assert (resumed["paused"], resumed["paused_reason"], resumed["consecutive_failures"]) == (False, None, 0)
    assert datetime.fromisoformat(resumed["next_run_at"]) > datetime.now(UTC)
    job, run = run_source(admin_client, source)
    assert run["status"] == "succeeded" and run["added"] == 1
