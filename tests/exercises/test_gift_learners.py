"""A Moodle quiz imported, answered by learners and exported again, on the real stack: titles, formats and
blanks shown, options in an order fixed per learner, numeric and weighted answers graded exactly in
code, and an export that imports back as the same questions."""

from __future__ import annotations

import uuid

from core.exercises.gift import parse
from tests.conftest import ApiClient, register
from tests.exercises.test_exercises import draft, generate, submit
from tests.profiles.support import wait_job
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack

QUIZ = """// Week 3 quiz
::Vienna:: Which river runs through Vienna? {
    ~the Seine #That is Paris.
    ~%50%the Rhine #It runs through Basel, not Vienna.
    =the Danube #Yes.
    ~the Thames
    ####The Danube flows through four capitals.
}

::Near pi:: [markdown]Give a number within 0.1 of 3.1. {#3.1:0.1 ~#Count again.}

::Week:: There are {#=7 =%50%6:0.5} days in a week.

::Capital:: What is the capital of France? {=Paris =%50%Paris, France #Just the city.}

::Sun:: The Sun is a star. {TRUE#It is a star.#Yes.}
"""


def import_quiz(admin: ApiClient, text: str) -> dict[str, dict]:
    """The quiz's published exercises (their job outputs), by title."""
    response = admin.post("/v1/admin/exercises/gift", json={"text": text, "skills": ["week 3"]})
    assert response.status_code == 202 and not response.json()["skipped"], response.text
    jobs = [wait_job(admin, job["id"]) for job in response.json()["jobs"]]
    assert all(job["status"] == "succeeded" for job in jobs), [job["error"] for job in jobs]
    return {job["output"]["title"]: job["output"] for job in jobs}


def test_an_imported_quiz_is_shown_graded_exactly_and_exported_as_it_came(
    admin_client: ApiClient, client: ApiClient
):
    quiz = import_quiz(admin_client, QUIZ)
    vienna = client.get(f"/api/learning/exercises/{quiz['Vienna']['exercise_id']}")
    assert vienna.json()["title"] == "Vienna" and vienna.json()["text_format"] == "moodle"
    assert sorted(vienna.json()["choices"]) == ["the Danube", "the Rhine", "the Seine", "the Thames"]
    for secret in ("four capitals", "Basel", '"weight"', '"feedback"'):
        assert secret not in vienna.text
    week = client.get(f"/api/learning/exercises/{quiz['Week']['exercise_id']}").json()
    assert week["prompt"] == "There are _____ days in a week." and week["blank_at"] == 10
    assert (
        client.get(f"/api/learning/exercises/{quiz['Near pi']['exercise_id']}").json()["text_format"]
        == "markdown"
    )

    def grade(title: str, answer: str) -> tuple[float, str]:
        graded = submit(client, quiz[title]["exercise_id"], answer)
        assert graded["graded_by"] == "exact"
        return graded["score"], graded["feedback"]

    assert grade("Vienna", "the Rhine") == (
        0.5,
        "Partly right: 50% of the marks. It runs through Basel, not Vienna.",
    )
    assert grade("Vienna", "The Danube") == (1.0, "Correct. Yes. The Danube flows through four capitals.")
    assert grade("Near pi", "3.2") == (1.0, "Correct.")  # 3.2 - 3.1 is 0.1 exactly, not 0.10000000000000009
    assert grade("Near pi", "3.21") == (0.0, "Not this one. Count again.")
    assert grade("Week", " 7 ")[0] == 1.0 and grade("Week", "6.5")[0] == 0.5 and grade("Week", "8")[0] == 0.0
    assert grade("Capital", "paris, france") == (0.5, "Partly right: 50% of the marks. Just the city.")
    assert grade("Capital", "Lyon") == (0.0, "Not this one.")  # matched in code: never sent to the model
    assert grade("Sun", "False") == (0.0, "Not this one. It is a star.")
    not_a_number = client.post(
        f"/api/learning/exercises/{quiz['Week']['exercise_id']}/submissions", json={"answer": "seven"}
    )
    assert (not_a_number.status_code, not_a_number.json()["code"]) == (422, "validation_error")

    imported, _ = parse(QUIZ)
    for question in imported:
        exported = admin_client.get(f"/api/learning/exercises/{quiz[question.title]['exercise_id']}.gift")
        assert exported.status_code == 200, exported.text
        (again,), skipped = parse(exported.text)
        assert not skipped and (again.exercise_type, again.draft) == (question.exercise_type, question.draft)


def test_each_learner_sees_the_options_in_an_order_of_their_own(
    admin_client: ApiClient, client: ApiClient, stack: Stack, fake_ollama: FakeOllama
):
    options = ["Canberra", "Sydney", "Melbourne", "Perth", "Brisbane"]
    quiz = import_quiz(admin_client, f"::Australia:: Capital of Australia? {{={' ~'.join(options)}}}")
    exercise_id = quiz["Australia"]["exercise_id"]
    assert quiz["Australia"]["choices"] == options  # stored, and shown to the admin, as written
    orders = []
    for _ in range(5):
        with register(stack.api_url) as learner:
            first = learner.get(f"/api/learning/exercises/{exercise_id}").json()["choices"]
            assert learner.get(f"/api/learning/exercises/{exercise_id}").json()["choices"] == first
            orders.append(first)
            assert submit(learner, exercise_id, "canberra")["score"] == 1.0  # graded by text, not position
    assert all(sorted(order) == sorted(options) for order in orders)
    assert len({tuple(order) for order in orders}) > 1

    # A generated exercise: its job's output shows the learner the order GET shows them.
    topic = f"Australian capitals {uuid.uuid4().hex[:8]}"
    fake_ollama.script(topic, draft(prompt="Capital of Australia?", choices=options[:4], answer="Canberra"))
    generated = generate(client, exercise_type="multiple_choice", topic=topic)["output"]
    shown = client.get(f"/api/learning/exercises/{generated['exercise_id']}").json()["choices"]
    assert generated["choices"] == shown and sorted(shown) == sorted(options[:4])
