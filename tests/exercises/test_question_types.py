"""Every Moodle question type on the real stack: a GIFT quiz with a description, an essay, multiple
answer, matching and two-option multiple choice imported, shown to learners, answered (or refused an
answer), graded, and exported back as the same questions; essays graded by the model with reasons
that must quote the learner, or left for an instructor who grades them once."""

from __future__ import annotations

import json
import uuid

from core.exercises.gift import parse
from tests.conftest import ApiClient, register
from tests.profiles.support import wait_job
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack

QUIZ = """$CATEGORY: $course$/top/Week 4

::Rules:: [markdown]You may use **your notes** for the next questions.

::Tomb:: What two people are entombed in Grant's tomb? {
    ~%-50%No one #Someone is.
    ~%50%Grant
    ~%50%Grant's wife
    ~%-50%Grant's father
}

::Capitals:: Match each country with its capital. {
    =Canada -> Ottawa
    =Italy -> Rome
    =Japan -> Tokyo
    = -> Sydney
    ####Capitals are not always the largest cities.
}

::Tomato:: Is a tomato a fruit, botanically? {=yes ~no}

::Tides:: Explain what causes the tides. {####The Moon, mostly.}
"""


def answer(client: ApiClient, exercise_id: str, value) -> dict:
    response = client.post(f"/api/learning/exercises/{exercise_id}/submissions", json={"answer": value})
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    return job["output"]


def refused(client: ApiClient, exercise_id: str, value) -> tuple[int, str]:
    response = client.post(f"/api/learning/exercises/{exercise_id}/submissions", json={"answer": value})
    return response.status_code, response.json()["code"]


def test_every_type_is_imported_shown_answered_and_exported_as_it_came(
    admin_client: ApiClient, client: ApiClient, stack: Stack, fake_ollama: FakeOllama
):
    imported = admin_client.post("/v1/admin/exercises/gift", json={"text": QUIZ})
    assert imported.status_code == 202, imported.text
    assert [s["reason"] for s in imported.json()["skipped"]] == [
        "a category line ($CATEGORY: a question bank folder), not a question"
    ]
    jobs = [wait_job(admin_client, job["id"]) for job in imported.json()["jobs"]]
    assert all(job["status"] == "succeeded" for job in jobs), [job["error"] for job in jobs]
    quiz = {job["output"]["title"]: job["output"] for job in jobs}
    ids = {title: output["exercise_id"] for title, output in quiz.items()}

    rules = client.get(f"/api/learning/exercises/{ids['Rules']}").json()
    assert (rules["exercise_type"], rules["text_format"], rules["choices"]) == (
        "description",
        "markdown",
        None,
    )
    assert refused(client, ids["Rules"], "read it") == (422, "not_answerable")

    tomb = client.get(f"/api/learning/exercises/{ids['Tomb']}").json()
    assert tomb["exercise_type"] == "multiple_answer" and "weight" not in json.dumps(tomb)
    assert answer(client, ids["Tomb"], ["grant's wife", "Grant"])["score"] == 1.0
    half = answer(client, ids["Tomb"], ["Grant"])
    assert (half["score"], half["graded_by"]) == (0.5, "exact")
    assert answer(client, ids["Tomb"], ["Grant", "No one"])["feedback"] == "Not this one. Someone is."
    assert refused(client, ids["Tomb"], "Grant") == (422, "validation_error")
    assert refused(client, ids["Tomb"], ["Grant", "Lee"]) == (422, "invalid_choice")

    capitals = client.get(f"/api/learning/exercises/{ids['Capitals']}").json()
    assert capitals["items"] == ["Canada", "Italy", "Japan"]
    assert sorted(capitals["choices"]) == ["Ottawa", "Rome", "Sydney", "Tokyo"]
    assert "largest cities" not in json.dumps(capitals)
    orders = set()
    for _ in range(4):  # the matches in an order of each learner's own, as multiple choice options are
        with register(stack.api_url) as learner:
            orders.add(tuple(learner.get(f"/api/learning/exercises/{ids['Capitals']}").json()["choices"]))
    assert len(orders) > 1
    pairs = answer(client, ids["Capitals"], {"Canada": "Ottawa", "italy": "rome", "Japan": "Sydney"})
    assert (round(pairs["score"], 4), pairs["graded_by"]) == (0.6667, "exact")
    assert "2 of 3 matched right." in pairs["feedback"]
    assert refused(client, ids["Capitals"], {"Canada": "Ottawa"}) == (422, "validation_error")
    assert refused(client, ids["Capitals"], {"Canada": "Ottawa", "Italy": "Rome", "Peru": "Lima"}) == (
        422,
        "invalid_choice",
    )
    assert refused(client, ids["Capitals"], ["Ottawa", "Rome", "Tokyo"]) == (422, "validation_error")

    assert client.get(f"/api/learning/exercises/{ids['Tomato']}").json()["exercise_type"] == "multiple_choice"
    assert answer(client, ids["Tomato"], "Yes")["score"] == 1.0
    assert refused(client, ids["Tides"], ["an", "essay"]) == (422, "validation_error")

    originals = {question.title: question for question in parse(QUIZ)[0]}
    for title, exercise_id in ids.items():
        exported = admin_client.get(f"/api/learning/exercises/{exercise_id}.gift")
        assert exported.status_code == 200, exported.text
        (again,), skipped = parse(exported.text)
        assert not skipped and (again.exercise_type, again.draft) == (
            originals[title].exercise_type,
            originals[title].draft,
        )


def essay_exercise(admin_client: ApiClient, **fields) -> str:
    body = {
        "exercise_type": "essay",
        "prompt": "Explain what causes the tides.",
        "skills": ["tides"],
        **fields,
    }
    response = admin_client.post("/v1/admin/exercises", json=body)
    assert response.status_code == 202, response.text
    job = wait_job(admin_client, response.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    return job["output"]["exercise_id"]


def test_an_essay_is_graded_on_what_the_learner_wrote(
    admin_client: ApiClient, client: ApiClient, fake_ollama: FakeOllama
):
    exercise_id = essay_exercise(
        admin_client, rubric="Names the Moon's gravity; says the Sun matters less.", answer="The Moon's pull."
    )
    marker = f"essay-{uuid.uuid4().hex[:8]}"
    essay = (
        f"Tides are mostly caused by the Moon's gravity pulling on the oceans. "
        f"I do not think the wind causes them. ({marker})"
    )
    fake_ollama.script(
        marker,
        json.dumps(
            {
                "score": 0.7,
                "feedback": "A clear start. Say more about the Sun.",
                "reasons": [
                    {
                        "quote": "caused by the Moon's gravity pulling on the oceans",
                        "comment": "The main cause.",
                    },
                    {"quote": "the Sun also pulls on the oceans", "comment": "Names the Sun."},  # not written
                    {"quote": "I think the wind causes them", "comment": "A misconception."},  # drops "not"
                ],
                "mistakes": ["nothing on the Sun"],
                "hint_for_next_try": "Compare the Sun's pull with the Moon's.",
            }
        ),
    )
    graded = answer(client, exercise_id, essay)
    assert (graded["status"], graded["graded_by"], graded["score"]) == ("graded", "model", 0.7)
    assert [reason["quote"] for reason in graded["reasons"]] == [
        "caused by the Moon's gravity pulling on the oceans"
    ]
    assert graded["reasons_dropped"] == 2 and graded["mastery"][0]["skill"] == "tides"
    sent = next(body for path, body in reversed(fake_ollama.bodies) if marker in json.dumps(body))
    assert "Names the Moon's gravity" in json.dumps(sent)  # the rubric went to the model

    # Credit the learner's words do not bear out is not trusted: the essay waits for an instructor.
    marker = f"essay-{uuid.uuid4().hex[:8]}"
    fake_ollama.script(
        marker,
        json.dumps(
            {
                "score": 0.9,
                "feedback": "Excellent.",
                "reasons": [{"quote": "spring tides come at new and full moon", "comment": "Insightful."}],
            }
        ),
    )
    waiting = answer(client, exercise_id, f"The wind pushes water up the beach. ({marker})")
    assert (waiting["status"], waiting["score"], waiting["correct"]) == ("awaiting_instructor", None, None)
    assert waiting["reasons_dropped"] == 1 and waiting["mastery"] == []
    attempts = client.get(f"/api/learning/exercises/{exercise_id}/submissions").json()["submissions"]
    assert [s["status"] for s in attempts] == ["graded", "awaiting_instructor"]


def test_an_instructor_grades_an_essay_left_for_them_once(
    admin_client: ApiClient, client: ApiClient, fake_ollama: FakeOllama
):
    exercise_id = essay_exercise(admin_client, grader="instructor", rubric="Mentions the Moon.")
    generations = len(fake_ollama.generations)
    essay = f"The Moon's gravity pulls the oceans into two bulges. {uuid.uuid4().hex}"
    waiting = answer(client, exercise_id, essay)
    assert (waiting["status"], waiting["graded_by"]) == ("awaiting_instructor", "instructor")
    assert len(fake_ollama.generations) == generations  # never sent to the model

    assert client.get("/v1/admin/exercises/submissions").status_code == 403
    queue = admin_client.get("/v1/admin/exercises/submissions").json()["submissions"]
    (mine,) = [s for s in queue if s["answer"] == essay]
    assert (mine["rubric"], mine["prompt"]) == ("Mentions the Moon.", "Explain what causes the tides.")

    grade = {"score": 0.8, "feedback": "Good: the bulges are right."}
    assert client.post(f"/v1/admin/exercises/submissions/{mine['id']}/grade", json=grade).status_code == 403
    graded = admin_client.post(f"/v1/admin/exercises/submissions/{mine['id']}/grade", json=grade)
    assert graded.status_code == 200, graded.text
    result = graded.json()["result"]
    assert (graded.json()["status"], result["score"], result["correct"], result["graded_by"]) == (
        "graded",
        0.8,
        True,
        "instructor",
    )
    assert result["mastery"][0]["skill"] == "tides"
    again = admin_client.post(f"/v1/admin/exercises/submissions/{mine['id']}/grade", json=grade)
    assert (again.status_code, again.json()["code"]) == (409, "submission_not_awaiting_grade")
    unknown = admin_client.post(f"/v1/admin/exercises/submissions/{uuid.uuid4()}/grade", json=grade)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "submission_not_found")
    too_much = admin_client.post(
        f"/v1/admin/exercises/submissions/{mine['id']}/grade", json={"score": 2, "feedback": "x"}
    )
    assert too_much.status_code == 422
    (seen,) = client.get(f"/api/learning/exercises/{exercise_id}/submissions").json()["submissions"]
    assert (seen["status"], seen["result"]["feedback"]) == ("graded", "Good: the bulges are right.")
    assert all(
        s["answer"] != essay
        for s in admin_client.get("/v1/admin/exercises/submissions").json()["submissions"]
    )
