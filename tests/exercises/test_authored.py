"""Exercises admins write, import from Moodle GIFT and export to it: the same publish gate as a
generated exercise, answered by learners like any other."""

from __future__ import annotations

import uuid

from core.exercises.gift import parse
from tests.conftest import ApiClient
from tests.profiles.support import wait_job

MULTIPLE_CHOICE = {
    "exercise_type": "multiple_choice",
    "topic": "capitals",
    "prompt": "What is the capital of Portugal?",
    "skills": ["geography"],
    "choices": ["Lisbon", "Porto", "Braga"],
    "answer": "Lisbon",
    "rubric": "Lisbon has been the capital since 1255.",
}
CODING = {
    "exercise_type": "coding",
    "prompt": "Write double(x).",
    "starter_code": "def double(x):\n    pass\n",
    "solution_code": "def double(x):\n    return 2 * x\n",
    "tests": [
        {"name": "doubles", "code": "assert double(4) == 8", "hidden": False},
        {"name": "zero", "code": "assert double(0) == 0", "hidden": True},
    ],
}
GIFT = """// a quiz from a Moodle course
::Rivers:: Which river runs through Paris? {
    =the Seine
    ~the Thames
    ~the Danube #no, that is Vienna
}

::Sum:: Two plus two \\= ? {=4 =four}

The sky is blue. {T}

::Pairs:: Match them {=a -> 1 =b -> 2 =c -> 3}

::Broken pairs:: Match them {=a -> 1 =b 2}
"""


def run(client: ApiClient, path: str, body: dict) -> dict:
    response = client.post(path, json=body)
    assert response.status_code == 202, response.text
    return wait_job(client, response.json()["id"])


def test_an_admin_exercise_is_gated_then_answered_by_any_learner(admin_client: ApiClient, client: ApiClient):
    job = run(admin_client, "/v1/admin/exercises", MULTIPLE_CHOICE)
    assert job["status"] == "succeeded", job["error"]
    exercise_id = job["output"]["exercise_id"]
    seen = client.get(f"/api/learning/exercises/{exercise_id}")
    assert seen.status_code == 200 and seen.json()["source"] == "authored"
    assert "1255" not in seen.text and '"answer"' not in seen.text
    graded = client.post(f"/api/learning/exercises/{exercise_id}/submissions", json={"answer": "Lisbon"})
    assert wait_job(client, graded.json()["id"])["output"]["correct"] is True

    wrong_key = run(admin_client, "/v1/admin/exercises", {**MULTIPLE_CHOICE, "answer": "Madrid"})
    assert wrong_key["error"]["code"] == "exercise_rejected"
    assert wrong_key["error"]["details"]["reasons"] == [["the correct answer is not one of the options"]]

    coding = run(admin_client, "/v1/admin/exercises", CODING)
    assert coding["status"] == "succeeded" and coding["output"]["hidden_tests"] == 1
    broken = run(
        admin_client, "/v1/admin/exercises", {**CODING, "solution_code": "def double(x):\n    return x\n"}
    )
    assert broken["error"]["code"] == "exercise_rejected"
    assert "the reference solution fails its own tests" in broken["error"]["details"]["reasons"][0][0]


def test_learners_may_not_write_import_or_export(client: ApiClient):
    assert client.post("/v1/admin/exercises", json=MULTIPLE_CHOICE).json()["code"] == "admin_only"
    assert client.post("/v1/admin/exercises/gift", json={"text": GIFT}).status_code == 403
    assert client.get(f"/api/learning/exercises/{uuid.uuid4()}.gift").status_code == 403


def test_gift_in_and_out(admin_client: ApiClient, client: ApiClient):
    response = admin_client.post("/v1/admin/exercises/gift", json={"text": GIFT, "skills": ["trivia"]})
    assert response.status_code == 202, response.text
    imported = response.json()
    # True/false is a two-option multiple choice the gate accepts; a pair without its '->' is refused.
    assert [(s["line"], s["title"]) for s in imported["skipped"]] == [(14, "Broken pairs")]
    assert "pair 2 has no '->'" in imported["skipped"][0]["reason"]
    assert len(imported["jobs"]) == 4
    outputs = [wait_job(admin_client, job["id"])["output"] for job in imported["jobs"]]
    by_prompt = {output["prompt"]: output for output in outputs}
    rivers = by_prompt["Which river runs through Paris?"]
    assert rivers["title"] == "Rivers" and rivers["choices"] == ["the Seine", "the Thames", "the Danube"]
    assert by_prompt["Two plus two = ?"]["exercise_type"] == "qa"
    assert by_prompt["The sky is blue."]["choices"] == ["True", "False"]
    assert (by_prompt["Match them"]["items"], by_prompt["Match them"]["choices"]) == (
        ["a", "b", "c"],
        ["1", "2", "3"],
    )

    exported = admin_client.get(f"/api/learning/exercises/{rivers['exercise_id']}.gift")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/plain")
    (question,), skipped = parse(exported.text)
    assert not skipped and question.title == "Rivers" and question.draft.answer == "the Seine"
    assert question.draft.choices == ["the Seine", "the Thames", "the Danube"]
    assert question.draft.choice_keys[2].feedback == "no, that is Vienna"
    coding = run(admin_client, "/v1/admin/exercises", CODING)["output"]["exercise_id"]
    refused = admin_client.get(f"/api/learning/exercises/{coding}.gift")
    assert (refused.status_code, refused.json()["code"]) == (422, "gift_unsupported")
    # Every =answer of an imported short answer is accepted, matched in code as Moodle matches them.
    for answer in ("4", "Four"):
        answered = client.post(
            f"/api/learning/exercises/{by_prompt['Two plus two = ?']['exercise_id']}/submissions",
            json={"answer": answer},
        )
        graded = wait_job(client, answered.json()["id"])["output"]
        assert (graded["graded_by"], graded["score"]) == ("exact", 1.0)
