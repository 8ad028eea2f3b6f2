"""xAPI statements from real learning events to a real LRS (Ralph), read back through its
GET /xAPI/statements: who, what verb, what activity, what result; each sent once, also when the
LRS is down for a while or the worker dies between the LRS's write and its answer; a statement the
LRS refuses kept with its reason; the learner's export holds them; a deleted account sends none."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.ask.test_ask import ask, library
from tests.conftest import ApiClient, make_admin, register
from tests.conversations.test_conversations import say
from tests.exercises.test_authored import MULTIPLE_CHOICE, run
from tests.profiles.support import wait_job
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack, wait_until
from tests.xapi.conftest import PUBLIC_URL, Lrs
from tests.xapi.lrs_gate import LrsGate

VERB = "http://adlnet.gov/expapi/verbs/"


@pytest.fixture(scope="module")
def exercise_id(xapi_stack: Stack) -> str:
    with register(xapi_stack.api_url) as author:
        job = run(make_admin(xapi_stack, author), "/v1/admin/exercises", MULTIPLE_CHOICE)
    assert job["status"] == "succeeded", job["error"]
    return job["output"]["exercise_id"]


def answer(learner: ApiClient, exercise_id: str, text: str) -> str:
    """The learner's graded answer; its submission id."""
    submitted = learner.post(f"/api/learning/exercises/{exercise_id}/submissions", json={"answer": text})
    assert submitted.status_code == 202, submitted.text
    graded = wait_job(learner, submitted.json()["id"])
    assert graded["status"] == "succeeded", graded["error"]
    return graded["output"]["submission_id"]


def outbox(stack: Stack, user_id: str) -> list[tuple[str, str, bool, str | None]]:
    """(id, verb, sent, error_code) of the user's statements, oldest first."""
    return [
        (str(statement_id), verb, sent_at is not None, error_code)
        for statement_id, verb, sent_at, error_code in stack.sql(
            "SELECT id, verb, sent_at, error_code FROM xapi_statements WHERE user_id = %s "
            "ORDER BY created_at, verb",
            user_id,
        )
    ]


def all_sent(stack: Stack, user_id: str, count: int) -> bool:
    rows = outbox(stack, user_id)
    return len(rows) == count and all(sent for _, _, sent, _ in rows)


def wait_all_sent(stack: Stack, user_id: str, count: int, timeout: float = 60) -> None:
    try:
        wait_until(lambda: all_sent(stack, user_id, count), timeout=timeout, message="statements sent")
    except TimeoutError:
        jobs = stack.sql(
            "SELECT j.id, j.status, j.attempts, j.error, "
            "array_agg(e.type || ':' || coalesce(e.data::text, '') "
            "ORDER BY e.id) FROM jobs j LEFT JOIN job_events e ON e.job_id = j.id "
            "WHERE j.kind = 'xapi.send' AND j.owner_id = %s GROUP BY j.id",
            user_id,
        )
        raise AssertionError(f"not all sent: outbox {outbox(stack, user_id)}; jobs {jobs}") from None


def mine(lrs: Lrs, user_id: str) -> list[dict]:
    agent = {"account": {"homePage": PUBLIC_URL, "name": user_id}}
    return lrs.statements(agent=json.dumps(agent))


def test_a_right_answer_is_attempted_answered_passed_and_completed_with_its_score(
    xapi_stack: Stack, lrs: Lrs, exercise_id: str
) -> None:
    with register(xapi_stack.api_url) as learner:
        submission_id = answer(learner, exercise_id, "Lisbon")
        wait_all_sent(xapi_stack, learner.user_id, 4, timeout=60)
        stored = mine(lrs, learner.user_id)
    by_verb = {statement["verb"]["id"].removeprefix(VERB): statement for statement in stored}
    assert sorted(by_verb) == ["answered", "attempted", "completed", "passed"]
    assert len(stored) == 4
    for statement in stored:
        assert statement["actor"]["account"] == {"homePage": PUBLIC_URL, "name": learner.user_id}
        assert statement["object"]["id"] == f"{PUBLIC_URL}/exercises/{exercise_id}"
        assert (
            statement["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/cmi.interaction"
        )
    assert "result" not in by_verb["attempted"]  # sent before the grade, with no score
    answered = by_verb["answered"]["result"]
    assert answered["score"] == {"scaled": 1, "raw": 1, "min": 0, "max": 1}
    assert answered["success"] is True and answered["completion"] is True
    # The ids are the ones fixed when the events were recorded, and derived from the submission.
    ids = {row[0] for row in outbox(xapi_stack, learner.user_id)}
    assert {statement["id"] for statement in stored} == ids
    assert str(uuid.uuid5(uuid.UUID(submission_id), "xapi:answered:")) in ids


def test_a_wrong_answer_is_failed_with_score_zero(xapi_stack: Stack, lrs: Lrs, exercise_id: str) -> None:
    with register(xapi_stack.api_url) as learner:
        answer(learner, exercise_id, "Porto")
        wait_all_sent(xapi_stack, learner.user_id, 3, timeout=60)
        verbs = {s["verb"]["id"].removeprefix(VERB): s for s in mine(lrs, learner.user_id)}
    assert sorted(verbs) == ["answered", "attempted", "failed"]
    assert verbs["failed"]["result"]["success"] is False
    assert verbs["failed"]["result"]["score"]["scaled"] == 0


def test_a_learner_from_an_lms_is_the_platforms_account(
    xapi_stack: Stack, lrs: Lrs, exercise_id: str
) -> None:
    """A learner linked by an LTI launch is the platform's account (issuer, sub) at the LRS, so the
    LMS's statements and ours are about one person; never the e-mail address."""
    issuer = "https://moodle.example.test"
    with register(xapi_stack.api_url) as learner:
        xapi_stack.sql(
            "INSERT INTO lti_accounts (id, issuer, accounts_key, subject, user_id)"
            " VALUES (%s, %s, 'moodle', 'moodle-user-42', %s)",
            str(uuid.uuid4()),
            issuer,
            learner.user_id,
        )
        answer(learner, exercise_id, "Lisbon")
        wait_all_sent(xapi_stack, learner.user_id, 4, timeout=60)
    stored = lrs.statements(agent=json.dumps({"account": {"homePage": issuer, "name": "moodle-user-42"}}))
    assert len(stored) == 4
    assert learner.email not in json.dumps(stored)


def test_the_lrs_down_gets_every_statement_later_once(
    xapi_stack: Stack, lrs: Lrs, gate: LrsGate, exercise_id: str
) -> None:
    gate.mode = "unavailable"
    with register(xapi_stack.api_url) as learner:
        answer(learner, exercise_id, "Lisbon")
        wait_until(
            lambda: (
                xapi_stack.sql(
                    "SELECT count(*) FROM jobs WHERE kind = 'xapi.send' AND owner_id = %s AND attempts >= 2",
                    learner.user_id,
                )[0][0]
                > 0
            ),
            timeout=60,
            message="a send retried",
        )
        reasons = xapi_stack.sql(
            "SELECT e.data->>'reason' FROM job_events e JOIN jobs j ON j.id = e.job_id "
            "WHERE j.kind = 'xapi.send' AND j.owner_id = %s AND e.type = 'retried'",
            learner.user_id,
        )
        assert reasons and all(reason.startswith("xapi_lrs_unavailable") for (reason,) in reasons), reasons
        assert not any(sent for _, _, sent, _ in outbox(xapi_stack, learner.user_id))
        gate.mode = "pass"
        wait_all_sent(xapi_stack, learner.user_id, 4, timeout=90)
        stored = mine(lrs, learner.user_id)
    assert len(stored) == 4 and len({s["id"] for s in stored}) == 4


def test_a_worker_killed_mid_send_leaves_each_statement_stored_once(
    xapi_stack: Stack, lrs: Lrs, gate: LrsGate, exercise_id: str
) -> None:
    """Ralph stores the batch, the worker dies before its answer; the job's retry sends the same
    ids again, and the LRS keeps one of each."""
    gate.mode = "hold"
    with register(xapi_stack.api_url) as learner:
        submitted = learner.post(
            f"/api/learning/exercises/{exercise_id}/submissions", json={"answer": "Lisbon"}
        )
        assert submitted.status_code == 202
        assert gate.held.wait(60), "no statements reached the LRS"
        xapi_stack.kill("worker-io")
        gate.reset()  # the held request ends with its worker gone; the next ones pass
        xapi_stack.start_worker("worker-io", queues="io", concurrency=4, pool="threads")
        wait_all_sent(xapi_stack, learner.user_id, 4, timeout=90)
        stored = mine(lrs, learner.user_id)
    assert len(stored) == 4
    assert len({s["id"] for s in stored}) == 4
    posted = [ids for ids in gate.posts if set(ids) & {s["id"] for s in stored}]
    assert len(posted) >= 2, "the batch was sent again after the worker died"


def test_a_statement_the_lrs_refuses_is_kept_with_its_reason_and_the_others_go(
    xapi_stack: Stack, lrs: Lrs, exercise_id: str
) -> None:
    """A statement Ralph refuses (here one with no actor, written into the outbox as an older
    release or a hand edit might) fails alone: the batch is halved until it is, it keeps the LRS's
    reason and is not sent again, and the learner's real statements reach the LRS."""
    with register(xapi_stack.api_url) as learner:
        bad_id = str(uuid.uuid4())
        xapi_stack.sql(
            "INSERT INTO xapi_statements (id, user_id, verb, statement, created_at) "
            "VALUES (%s, %s, 'answered', %s, now() - interval '1 second')",
            bad_id,
            learner.user_id,
            json.dumps(
                {"id": bad_id, "verb": {"id": VERB + "answered"}, "object": {"id": PUBLIC_URL + "/x"}}
            ),
        )
        answer(learner, exercise_id, "Lisbon")
        wait_until(
            lambda: sum(sent for _, _, sent, _ in outbox(xapi_stack, learner.user_id)) == 4,
            timeout=60,
            message="the good statements sent",
        )
        rows = {row[0]: row for row in outbox(xapi_stack, learner.user_id)}
        assert rows[bad_id][2:] == (False, "xapi_statement_refused")
        [(reason,)] = xapi_stack.sql("SELECT error FROM xapi_statements WHERE id = %s", bad_id)
        assert "actor" in reason
        assert bad_id not in {s["id"] for s in mine(lrs, learner.user_id)}
        assert len(mine(lrs, learner.user_id)) == 4
        jobs = xapi_stack.sql(
            "SELECT status, output FROM jobs WHERE kind = 'xapi.send' AND owner_id = %s", learner.user_id
        )
    assert all(status == "succeeded" for status, _ in jobs)
    assert sum(output["refused"] for _, output in jobs) == 1


def test_the_export_holds_the_statements_and_a_deleted_account_sends_none(
    xapi_stack: Stack, lrs: Lrs, gate: LrsGate, exercise_id: str
) -> None:
    with register(xapi_stack.api_url) as learner:
        answer(learner, exercise_id, "Lisbon")
        wait_all_sent(xapi_stack, learner.user_id, 4, timeout=60)
        exported = learner.get("/api/profiles/me/export")
        assert exported.status_code == 200, exported.text
        statements = exported.json()["xapi_statements"]
        assert len(statements) == 4 and all(item["sent_at"] for item in statements)
        assert {item["statement"]["verb"]["id"] for item in statements} == {
            VERB + verb for verb in ("attempted", "answered", "passed", "completed")
        }

    gate.mode = "unavailable"  # the next statements wait in the outbox
    with register(xapi_stack.api_url) as leaving:
        answer(leaving, exercise_id, "Lisbon")
        wait_until(
            lambda: len(outbox(xapi_stack, leaving.user_id)) == 4, timeout=30, message="statements recorded"
        )
        deleted = leaving.delete("/api/profiles/me")
        assert deleted.status_code in (202, 204), deleted.text
        wait_until(
            lambda: not xapi_stack.sql("SELECT 1 FROM users WHERE id = %s", leaving.user_id),
            timeout=60,
            message="the account deleted",
        )
    assert outbox(xapi_stack, leaving.user_id) == []
    gate.mode = "pass"
    time.sleep(6)  # past the send job's next retry: had it survived, it would have sent by now
    assert mine(lrs, leaving.user_id) == []


def test_a_question_to_the_tutor_is_asked_without_its_text_and_the_cited_document_experienced(
    xapi_stack: Stack, lrs: Lrs, fake_ollama: FakeOllama
) -> None:
    with register(xapi_stack.api_url) as learner:
        collection, word, document_id = library(learner)
        question = f"How long does a {word} session last?"
        fake_ollama.script(
            question, f"A {word} session lasts twenty minutes and ends with a short written summary [1]."
        )
        job = ask(learner, question, collections=[collection])
        assert job["output"]["citations"], job["output"]
        [(collection_id,)] = xapi_stack.sql(
            "SELECT input->'collection_ids'->>0 FROM jobs WHERE id = %s", job["id"]
        )
        wait_all_sent(xapi_stack, learner.user_id, 2)
        stored = {s["verb"]["id"].removeprefix(VERB): s for s in mine(lrs, learner.user_id)}
    assert sorted(stored) == ["asked", "experienced"]
    asked = stored["asked"]
    assert asked["object"]["id"] == f"{PUBLIC_URL}/collections/{collection_id}"
    assert "result" not in asked and word not in json.dumps(asked)  # MENTORQ_XAPI_SHARE_QUESTIONS is off
    experienced = stored["experienced"]["object"]
    assert experienced["id"] == f"{PUBLIC_URL}/documents/{document_id}"
    assert experienced["definition"]["type"] == "http://id.tincanapi.com/activitytype/document"
    # A private collection's document is not named to the LRS: its title may name a person.
    assert experienced["definition"]["name"] == {"en-US": "a private document"}
    assert asked["id"] == str(uuid.uuid5(uuid.UUID(job["id"]), "xapi:asked:"))


def test_a_question_in_a_tutor_conversation_is_asked_too(
    xapi_stack: Stack, lrs: Lrs, fake_ollama: FakeOllama
) -> None:
    with register(xapi_stack.api_url) as learner:
        _, word, document_id = library(learner)
        question = f"What is {word}?"
        fake_ollama.script(
            question, f"{word.title()} is a study method where learners explain each idea aloud [1]."
        )
        conversation = learner.post("/api/conversations", json={}).json()["id"]
        job = say(learner, conversation, question)
        assert job["output"]["grounded"] is True, job["output"]
        wait_all_sent(xapi_stack, learner.user_id, 2)
        stored = {s["verb"]["id"].removeprefix(VERB): s for s in mine(lrs, learner.user_id)}
    assert sorted(stored) == ["asked", "experienced"]
    assert stored["experienced"]["object"]["id"] == f"{PUBLIC_URL}/documents/{document_id}"
    assert stored["asked"]["id"] == str(uuid.uuid5(uuid.UUID(job["id"]), "xapi:asked:"))
