"""Retention against the real stack: what goes, what stays, and that beat's task and the CLI really run it.

Jobs are made through the HTTP API and run by the real workers; only their age is faked, by
moving their timestamps back with SQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from celery import Celery
from pydantic import ValidationError
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from core.settings import Settings
from db.retention import RetentionCounts, count_expired, count_held, purge_expired_jobs
from db.session import sqlalchemy_url
from tests.conftest import ApiClient
from tests.support.fake_ollama import FakeOllama
from tests.support.receiver import Receiver
from tests.support.stack import REPO, Stack, wait_until

DAYS = 30  # MENTORQ_JOB_RETENTION_DAYS's default, which the test stack's worker runs with
OLD = DAYS + 10
NOTHING = {"jobs": 0, "events": 0, "deliveries": 0, "attempts": 0}

Sessions = Callable[[], AbstractContextManager[Session]]


@pytest.fixture(scope="module")
def sessions(stack: Stack) -> Iterator[Sessions]:
    """Transactions on the stack's database from the test process, as the task and CLI get them."""
    engine = create_engine(sqlalchemy_url(stack.database_url), poolclass=NullPool)

    @contextmanager
    def scope() -> Iterator[Session]:
        with Session(engine) as session, session.begin():
            yield session

    yield scope
    engine.dispose()


def submit(client: ApiClient, kind: str, input: dict, *, wait: bool = True, **fields: object) -> dict:
    response = client.post(
        "/v1/jobs",
        json={"kind": kind, "input": input, **fields},
        headers={"Prefer": "wait=30"} if wait else {},
    )
    assert response.status_code in (200, 202), response.text
    return response.json()


def finished(client: ApiClient, **fields: object) -> str:
    job = submit(client, "debug.sleep", {}, **fields)
    assert job["status"] == "succeeded", job
    return job["id"]


def status(client: ApiClient, job_id: str) -> str:
    return client.get(f"/v1/jobs/{job_id}").json()["status"]


def age(stack: Stack, job_id: str, days: int) -> None:
    """Make the job look created and completed `days` ago (completed_at even on an unfinished job:
    then only its status can keep it)."""
    stack.sql(
        "UPDATE jobs SET created_at = now() - make_interval(days => %s) - interval '1 minute', "
        "completed_at = now() - make_interval(days => %s) WHERE id = %s",
        days,
        days,
        job_id,
    )


def rows(stack: Stack, job_id: str) -> dict[str, int]:
    [(jobs, events, deliveries, attempts)] = stack.sql(
        "SELECT (SELECT count(*) FROM jobs WHERE id = j.id), "
        "(SELECT count(*) FROM job_events WHERE job_id = j.id), "
        "(SELECT count(*) FROM webhook_deliveries WHERE job_id = j.id), "
        "(SELECT count(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id "
        " WHERE d.job_id = j.id) "
        "FROM (SELECT %s::uuid AS id) j",
        job_id,
    )
    return {"jobs": jobs, "events": events, "deliveries": deliveries, "attempts": attempts}


def deliveries(stack: Stack, job_id: str) -> list[tuple[str, str, int]]:
    return stack.sql("SELECT event_type, status, attempts FROM webhook_deliveries WHERE job_id = %s", job_id)


def text_document(client: ApiClient, title: str, text: str) -> dict:
    """Submit a text document and wait until it is searchable."""
    response = client.post("/v1/documents/text", json={"title": title, "text": text})
    assert response.status_code == 202, response.text
    document_id = response.json()["document"]["id"]

    def ready() -> bool:
        return client.get(f"/v1/documents/{document_id}").json()["status"] in ("ready", "failed")

    wait_until(ready, timeout=120, interval=0.25, message=f"document {document_id}")
    document = client.get(f"/v1/documents/{document_id}").json()
    assert document["status"] == "ready", document
    return document


def assert_kept(
    stack: Stack, before: dict[str, dict[str, int]], *, finished: list[str], unfinished: list[str]
) -> None:
    """Finished jobs kept whole; unfinished ones kept and still recording events (a running chat streams)."""
    assert {job_id: rows(stack, job_id) for job_id in finished} == {
        job_id: before[job_id] for job_id in finished
    }
    for job_id in unfinished:
        now = rows(stack, job_id)
        assert now["jobs"] == 1 and now["events"] >= before[job_id]["events"], (job_id, now, before[job_id])


def test_retention_deletes_old_finished_jobs_with_their_rows_and_keeps_what_must_stay(
    stack: Stack, client: ApiClient, fake_ollama: FakeOllama, sessions: Sessions
) -> None:
    ok, busy = Receiver(), Receiver(statuses=[503], headers={"Retry-After": "3600"})
    unfinished: list[str] = []
    try:
        # Old and finished, each way a job ends: they go, with everything hanging off them.
        delivered = finished(client, webhook=ok.url, webhook_events_filter=["start", "completed"])
        wait_until(
            lambda: (
                sorted(deliveries(stack, delivered))
                == [("job.started", "succeeded", 1), ("job.succeeded", "succeeded", 1)]
            ),
            timeout=30,
            message="both webhook messages delivered",
        )
        failed = submit(client, "chat", {"prompt": "hi", "model": "no-such-model:7b"})
        assert failed["status"] == "failed", failed
        canceled = submit(client, "debug.sleep", {"seconds": 3, "steps": 30}, wait=False)["id"]
        assert client.post(f"/v1/jobs/{canceled}/cancel").status_code == 200
        wait_until(lambda: status(client, canceled) == "canceled", timeout=30, message="canceled")

        # Finished, but inside the period.
        recent = finished(client)
        # Old and finished, but its webhook message waits for a retry an hour away (Retry-After).
        awaiting_retry = finished(client, webhook=busy.url)
        wait_until(
            lambda: deliveries(stack, awaiting_retry) == [("job.succeeded", "pending", 1)],
            timeout=30,
            message="a delivery scheduled for retry",
        )
        # A document ingested, then re-ingested: the first ingest job is superseded, the second is current.
        first = text_document(
            client, "Retention notes", "# Spacing\n\nReview after one day, then after three."
        )
        document = text_document(client, "Retention notes", "# Spacing\n\nReview after one day, then a week.")
        assert document["id"] == first["id"] and document["ingest_job_id"] != first["ingest_job_id"]
        superseded_ingest, current_ingest = first["ingest_job_id"], document["ingest_job_id"]
        chunks = stack.sql("SELECT count(*) FROM chunks WHERE document_id = %s", document["id"])

        # Old but unfinished: two slow chats hold both worker processes, so a third job stays queued.
        fake_ollama.reply = " ".join(["word"] * 200)
        fake_ollama.token_delay_s = 0.5
        unfinished += [submit(client, "chat", {"prompt": "go on"}, wait=False)["id"] for _ in range(2)]
        wait_until(
            lambda: all(status(client, job) == "running" for job in unfinished), timeout=60, message="running"
        )
        unfinished.append(submit(client, "debug.sleep", {}, wait=False)["id"])

        gone = [delivered, failed["id"], canceled, superseded_ingest]
        kept = [recent, awaiting_retry, current_ingest, *unfinished]
        for job_id in gone + kept:
            age(stack, job_id, OLD)
        age(stack, recent, DAYS - 1)
        before = {job_id: rows(stack, job_id) for job_id in gone + kept}
        assert before[delivered] == {
            "jobs": 1,
            "events": 4,
            "deliveries": 2,
            "attempts": 2,
        }  # queued..succeeded
        assert all(before[job_id]["jobs"] == 1 and before[job_id]["events"] > 0 for job_id in gone + kept)
        expected = RetentionCounts(**{key: sum(before[job_id][key] for job_id in gone) for key in NOTHING})

        assert [status(client, job) for job in unfinished] == ["running", "running", "queued"]
        with sessions() as session:
            assert count_expired(session, days=DAYS) == expected  # the dry run counts what the run deletes
        deleted, done = purge_expired_jobs(sessions, days=DAYS, batch=3)  # 4 jobs: more than one batch
        assert [status(client, job) for job in unfinished] == ["running", "running", "queued"]

        assert done and deleted == expected
        assert {job_id: rows(stack, job_id) for job_id in gone} == {job_id: NOTHING for job_id in gone}
        assert_kept(stack, before, finished=[recent, awaiting_retry, current_ingest], unfinished=unfinished)
        assert client.get(f"/v1/jobs/{delivered}").status_code == 404
        assert client.get(f"/v1/jobs/{awaiting_retry}/deliveries").json()["items"][0]["status"] == "pending"

        # The document is untouched and still links to a job that exists.
        after = client.get(f"/v1/documents/{document['id']}").json()
        assert (after["status"], after["chunk_count"], after["ingest_job_id"]) == (
            "ready",
            document["chunk_count"],
            current_ingest,
        )
        assert stack.sql("SELECT count(*) FROM chunks WHERE document_id = %s", document["id"]) == chunks
        assert client.get(f"/v1/jobs/{current_ingest}").json()["status"] == "succeeded"

        # Idempotent: a second run finds nothing more, and says which old jobs it keeps.
        again, done = purge_expired_jobs(sessions, days=DAYS)
        assert done and again == RetentionCounts()
        assert_kept(stack, before, finished=[recent, awaiting_retry, current_ingest], unfinished=unfinished)
        with sessions() as session:
            assert (
                count_held(session, days=DAYS) == 2
            )  # awaiting_retry, current_ingest (the others are unfinished)
    finally:
        for job_id in unfinished:
            client.post(f"/v1/jobs/{job_id}/cancel")
        ok.close()
        busy.close()


def test_the_beat_task_deletes_through_a_real_worker_on_the_maintenance_queue(
    stack: Stack, client: ApiClient
) -> None:
    old, recent = finished(client), finished(client)
    age(stack, old, OLD)
    age(stack, recent, DAYS - 1)
    old_rows = rows(stack, old)
    log = stack.root / "worker.log"
    offset = log.stat().st_size

    def logged() -> str:
        with log.open("rb") as file:
            file.seek(offset)
            return file.read().decode(errors="replace")

    broker = Celery(broker=stack.redis.url.replace("unix://", "redis+socket://"))
    broker.send_task("mentorq.maintenance.retention", queue="maintenance")
    wait_until(
        lambda: "retention: deleted" in logged(), timeout=60, message="a retention run in the worker log"
    )

    assert rows(stack, old) == NOTHING
    assert rows(stack, recent)["jobs"] == 1
    assert f"retention: deleted 1 job, {old_rows['events']} job events, 0 webhook deliveries" in logged()


def mentorq(stack: Stack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The `mentorq` console script's entry point, against the stack's database."""
    return subprocess.run(
        [sys.executable, "-c", "from mentorq.cli import main; main()", *args],
        cwd=REPO,
        env={**stack.env, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_mentorq_retention_run_counts_first_with_dry_run_then_deletes(
    stack: Stack, client: ApiClient
) -> None:
    old = finished(client)
    age(stack, old, OLD)
    before = rows(stack, old)
    summary = f"1 job, {before['events']} job events, 0 webhook deliveries, 0 delivery attempts"

    off = mentorq(stack, "retention", "run", MENTORQ_JOB_RETENTION_DAYS="0")
    assert off.returncode == 0, off.stderr
    assert "retention is off" in off.stdout

    dry = mentorq(stack, "retention", "run", "--days", str(DAYS), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would delete {summary} (finished more than {DAYS} days ago)" in dry.stdout
    assert rows(stack, old) == before

    run = mentorq(stack, "retention", "run")  # the period from MENTORQ_JOB_RETENTION_DAYS (default 30)
    assert run.returncode == 0, run.stderr
    assert f"deleted {summary} (finished more than {DAYS} days ago)" in run.stdout
    assert rows(stack, old) == NOTHING

    refused = mentorq(stack, "retention", "run", "--days", "0")
    assert refused.returncode != 0  # --days 0 would mean "everything finished": refused, not obeyed


def test_retention_is_scheduled_by_beat_and_routed_to_the_maintenance_queue() -> None:
    probe = (
        "import json, celeryconfig; from workers.celery_app import app; app.loader.import_default_modules(); "
        "entries = [e for e in celeryconfig.beat_schedule.values() "
        "if e['task'] == 'mentorq.maintenance.retention']; "
        "route = app.amqp.router.route({}, 'mentorq.maintenance.retention'); "
        "print(json.dumps({'entries': [{'schedule': e['schedule'], 'options': e.get('options')} "
        "for e in entries], "
        "'queue': route['queue'].name, 'registered': 'mentorq.maintenance.retention' in app.tasks}))"
    )
    env = {
        **os.environ,
        "MENTORQ_ENV": "dev",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "PYTHONPATH": str(REPO),
        "MENTORQ_RETENTION_EVERY_SECONDS": "1234",
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {
        "entries": [{"schedule": 1234.0, "options": {"expires": 1234.0}}],
        "queue": "maintenance",
        "registered": True,
    }


def test_retention_settings() -> None:
    defaults = Settings(_env_file=None, MENTORQ_ENV="test")
    assert (defaults.job_retention_days, defaults.retention_every_seconds) == (30, 3600.0)
    assert (
        Settings(_env_file=None, MENTORQ_ENV="test", MENTORQ_JOB_RETENTION_DAYS="0").job_retention_days == 0
    )
    with pytest.raises(ValidationError):
        Settings(_env_file=None, MENTORQ_ENV="test", MENTORQ_JOB_RETENTION_DAYS="-1")
    with pytest.raises(ValidationError):
        Settings(_env_file=None, MENTORQ_ENV="test", MENTORQ_RETENTION_EVERY_SECONDS="0")
