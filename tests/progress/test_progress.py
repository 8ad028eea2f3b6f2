"""Progress and the learner model on the real stack: BKT mastery, FSRS reviews, streaks, and the
insight job's checks."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.progress.learner_model import BKTParameters, bkt_update
from tests.conftest import ApiClient
from tests.profiles.support import wait_job
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack

# The test stack runs with the default BKT settings.
DEFAULTS = BKTParameters(prior=0.3, learn=0.1, guess=0.2, slip=0.1)


def record(client: ApiClient, **body) -> dict:
    response = client.post("/api/profiles/progress", json=body)
    assert response.status_code == 202, response.text
    return response.json()


def test_an_event_updates_mastery_and_reviews_in_one_answer(client: ApiClient):
    first = record(client, completed_task="Loops kata", skills=["Python", "loops"], score=0.9, duration_s=300)
    expected = bkt_update(DEFAULTS.prior, True, DEFAULTS)
    assert {m["skill"]: round(m["p_known"], 4) for m in first["mastery"]} == {
        "loops": round(expected, 4),
        "Python": round(expected, 4),
    }
    assert first["event"]["correct"] is True and first["job"]["kind"] == "progress_insight"
    assert first["review"]["reviews"] == 1

    second = record(client, completed_task="loops KATA", skills=["python"], score=0.3)
    after_wrong = bkt_update(expected, False, DEFAULTS)
    assert [(m["skill"], round(m["p_known"], 4), m["evidence"]) for m in second["mastery"]] == [
        ("Python", round(after_wrong, 4), 2)
    ]
    assert second["event"]["correct"] is False
    # The same task (normalized) is one review card; a wrong answer brings it due again soon.
    assert second["review"]["item"] == first["review"]["item"] and second["review"]["reviews"] == 2

    progress = client.get("/api/profiles/progress").json()
    assert [e["completed_task"] for e in progress["timeline"]] == ["loops KATA", "Loops kata"]
    assert progress["mastery"][0]["skill"] == "Python"  # weakest first
    assert progress["streak_days"] == 1


def test_concurrent_events_of_one_learner_lose_no_update(client: ApiClient):
    """Twelve events at once on the same skills (listed in both orders) and the same task: every
    one counts once in mastery and on the card, and none deadlocks."""
    events = [
        {
            "completed_task": "Joins drill",
            "skills": ["sql", "joins"] if i % 2 else ["joins", "sql"],
            "score": 1.0,
        }
        for i in range(12)
    ]
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda body: client.post("/api/profiles/progress", json=body), events))
    assert [answer.status_code for answer in answers] == [202] * 12, [a.text for a in answers]

    expected = DEFAULTS.prior
    for _ in events:
        expected = bkt_update(expected, True, DEFAULTS)
    progress = client.get("/api/profiles/progress").json()
    assert {
        (m["skill"], m["evidence"], m["correct"], round(m["p_known"], 6)) for m in progress["mastery"]
    } == {
        ("joins", 12, 12, round(expected, 6)),
        ("sql", 12, 12, round(expected, 6)),
    }
    # Each answer saw its own review: the card's review counts are 1..12, each once.
    assert sorted(answer.json()["review"]["reviews"] for answer in answers) == list(range(1, 13))


def test_a_burst_of_events_shares_one_queued_insight(stack: Stack, client: ApiClient):
    stack.stop("worker")  # nothing takes the insight job while the burst is recorded
    try:
        jobs = {
            record(client, completed_task=f"task {i}", skills=["sql"], score=1.0)["job"]["id"]
            for i in range(5)
        }
    finally:
        stack.start_worker()
    assert len(jobs) == 1
    assert wait_job(client, jobs.pop())["status"] == "succeeded"


def test_reviews_come_due(stack: Stack, client: ApiClient):
    record(client, completed_task="Flashcards: French verbs", skills=["french"], score=0.0)
    assert client.get("/api/profiles/progress").json()["reviews_due"] == []  # due in a minute (FSRS step)
    stack.sql("UPDATE review_cards SET due = now() - interval '1 second' WHERE user_id = %s", client.user_id)
    due = client.get("/api/profiles/progress").json()["reviews_due"]
    assert [r["label"] for r in due] == ["Flashcards: French verbs"]


def test_streak_counts_consecutive_days(stack: Stack, client: ApiClient):
    for _ in range(3):
        record(client, completed_task="daily", skills=[])
    stack.sql(
        """UPDATE progress_events SET created_at = now() - make_interval(days => n::int)
           FROM (SELECT id, row_number() OVER (ORDER BY created_at) - 1 AS n FROM progress_events
                 WHERE user_id = %s) AS numbered WHERE progress_events.id = numbered.id""",
        client.user_id,
    )
    assert client.get("/api/profiles/progress").json()["streak_days"] == 3
    stack.sql(
        "UPDATE progress_events SET created_at = created_at - interval '2 days' WHERE user_id = %s",
        client.user_id,
    )
    assert client.get("/api/profiles/progress").json()["streak_days"] == 0


def test_progress_refusals(client: ApiClient, other_client: ApiClient):
    someone_else = client.post(
        "/api/profiles/progress", json={"completed_task": "x", "user_id": other_client.user_id}
    )
    assert someone_else.status_code == 403 and someone_else.json()["code"] == "not_your_progress"
    mine = client.post("/api/profiles/progress", json={"completed_task": "x", "user_id": client.user_id})
    assert mine.status_code == 202
    for score in (-0.1, 1.5):
        assert (
            client.post("/api/profiles/progress", json={"completed_task": "x", "score": score}).status_code
            == 422
        )
    nul = client.post("/api/profiles/progress", json={"completed_task": "x\u0000y"})
    assert nul.status_code == 422
    huge = client.post("/api/profiles/progress", json={"completed_task": "x", "notes": "n" * 1_100_000})
    assert huge.status_code == 413
    theirs = other_client.post("/api/sessions", json={"title": "theirs"}).json()
    foreign = client.post("/api/profiles/progress", json={"completed_task": "x", "session_id": theirs["id"]})
    assert foreign.status_code == 404 and foreign.json()["code"] == "session_not_found"
    assert len(client.get("/api/profiles/progress").json()["timeline"]) == 1


def _insight(**fields) -> str:
    answer = {"summary": "Steady progress.", "strengths": [], "gaps": [], "next_steps": []}
    answer.update(fields)
    return json.dumps(answer)


def test_the_insight_keeps_only_skills_from_the_history_and_retrieved_chunks(
    client: ApiClient, admin_client: ApiClient, fake_ollama: FakeOllama
):
    skill = f"skill{uuid.uuid4().hex[:8]}"  # unique: the prompt carries it, so the script is ours
    library = admin_client.post(
        "/v1/documents/text",
        json={
            "collection": f"lib-{skill}",
            "title": f"{skill} guide",
            "text": f"A guide to {skill}: practise daily.",
        },
    )
    # A private collection of the admin's: invisible to the learner, so never retrieved for them.
    assert library.status_code == 202
    # Each event queues an insight, or shares one still queued: both waited for, so that neither
    # finishes after the one asked for below and becomes the latest (a CI run saw the first's).
    first = record(client, completed_task="Warm-up", skills=[skill, "reading"], score=0.2)
    recorded = record(client, completed_task="Warm-up 2", skills=["reading"], score=1.0)
    wait_job(client, first["job"]["id"])
    wait_job(client, recorded["job"]["id"])

    fake_ollama.script(
        skill,
        _insight(
            strengths=["Reading", "Juggling"],
            gaps=[skill.upper(), "Quantum physics"],
            next_steps=[
                {
                    "action": "Practise daily",
                    "reason": "weakest",
                    "skill": skill,
                    "cited_chunk_ids": [999999999],
                },
                {"action": "Try juggling", "reason": "fun", "skill": "juggling", "cited_chunk_ids": []},
            ],
        ),
    )
    job = wait_job(client, client.post("/api/profiles/progress/insight").json()["id"])
    assert job["status"] == "succeeded", job
    insight = job["output"]
    assert insight["history"] is True
    assert insight["strengths"] == ["reading"] and insight["gaps"] == [skill]
    assert insight["next_steps"][0]["cited_chunk_ids"] == [] and insight["next_steps"][1]["skill"] is None
    assert insight["dropped"] == {"strengths": 1, "gaps": 1, "citations": 1, "skills": 1}
    assert insight["weakest_skills"][0]["skill"] == skill
    latest = client.get("/api/profiles/progress").json()["latest_insight"]
    assert latest["job_id"] == job["id"]


def test_a_learner_with_no_history_gets_advice_not_an_error(client: ApiClient):
    job = wait_job(client, client.post("/api/profiles/progress/insight").json()["id"])
    assert job["status"] == "succeeded", job
    assert job["output"]["history"] is False
    assert job["output"]["summary"].startswith("No progress recorded yet")
    assert job["output"]["strengths"] == [] and job["output"]["gaps"] == []


# Valid JSON whose summary holds no word (a tiny model answered "][" in make demo) is invalid too.
@pytest.mark.parametrize(
    "bad", ["prose, not JSON", '{"summary": 3}', '{"summary": "]["}', '{"summary": "42 / 7"}']
)
def test_an_insight_answer_that_stays_invalid_fails_cleanly(
    client: ApiClient, fake_ollama: FakeOllama, bad: str
):
    skill = f"skill{uuid.uuid4().hex[:8]}"
    fake_ollama.script(skill, bad)
    job_id = record(client, completed_task="x", skills=[skill])["job"]["id"]
    job = wait_job(client, job_id)
    assert job["status"] == "failed" and job["error"]["code"] == "llm_invalid_output"
    # The event and the learner model stay: they never depended on the LLM.
    progress = client.get("/api/profiles/progress").json()
    assert len(progress["timeline"]) == 1 and progress["mastery"][0]["skill"] == skill
