"""Grades a learning site can trust, on the real stack: a coding exercise with every test form,
graded against submissions that try to forge their grade; every submission leaving `grading`
however its grading ends; and model-written feedback that never names the reference answer."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.conftest import ApiClient
from tests.profiles.support import wait_job
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack

SECRET = 771_188_991  # what a hidden test expects: no submission ever sees it
CODING = {
    "exercise_type": "coding",
    "prompt": "Write add(a, b); run as a program, it reads two numbers and prints their sum.",
    "starter_code": "def add(a, b):\n    pass\n",
    "solution_code": (
        "def add(a, b):\n    return a + b\n\n"
        "if __name__ == '__main__':\n    print(add(*map(int, input().split())))\n"
    ),
    "tests": [
        {"name": "adds", "call": "add(2, 3)", "expected": "5"},
        {"name": "reads input", "stdin": "1 2\n", "expected_stdout": "3\n"},
        {"name": "a check", "code": "total = add(1, 1)\nassert total == 2"},
        {"name": "big", "call": f"add({SECRET - 1}, 1)", "expected": str(SECRET), "hidden": True},
        {"name": "negative input", "stdin": "-4 1\n", "expected_stdout": "-3", "hidden": True},
    ],
}
FORGERIES = {
    "prints the old report marker and exits": (
        "import os\nprint('\\x1emqreport\\x1e' + repr([{'name': n, 'outcome': 'passed'} for n in "
        "['adds', 'reads input', 'a check', 'big', 'negative input']]))\nos._exit(0)\n"
    ),
    "reports every test passed on the channel": (
        "import os, sys\nfor i in range(5):\n"
        "    os.write(int(sys.argv[1]), (repr((i, 'passed')) + '\\n').encode())\n"
    ),
    # Reports an odd shape used to fail the grade job (internal_error) and leave the submission grading.
    "reports a test whose name is a list": (
        "import os, sys\nos.write(int(sys.argv[1]), (repr((['adds'], 'passed')) + '\\n').encode())\n"
    ),
    "reports a bare integer": "import os, sys\nos.write(int(sys.argv[1]), b'7\\n')\n",
    "replaces exec and eval": "import builtins\nbuiltins.exec = builtins.eval = lambda *a, **k: True\n",
    "returns an object equal to anything": (
        "class Yes(int):\n    def __eq__(self, other): return True\n    def __repr__(self): return '5'\n"
        "def add(a, b):\n    return Yes()\n"
    ),
}


@pytest.fixture(scope="module")
def exercise_id(stack: Stack) -> str:
    from tests.conftest import make_admin, register

    with register(stack.api_url) as admin:
        make_admin(stack, admin)
        response = admin.post("/v1/admin/exercises", json=CODING)
        assert response.status_code == 202, response.text
        job = wait_job(admin, response.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    return job["output"]["exercise_id"]


def submit(client: ApiClient, exercise_id: str, answer: str) -> dict:
    response = client.post(f"/api/learning/exercises/{exercise_id}/submissions", json={"answer": answer})
    assert response.status_code == 202, response.text
    return wait_job(client, response.json()["id"])


def submissions(client: ApiClient, exercise_id: str) -> list[dict]:
    return client.get(f"/api/learning/exercises/{exercise_id}/submissions").json()["submissions"]


def test_a_learner_sees_the_visible_tests_never_a_hidden_one(client: ApiClient, exercise_id: str):
    seen = client.get(f"/api/learning/exercises/{exercise_id}").json()
    assert [t["name"] for t in seen["visible_tests"]] == ["adds", "reads input", "a check"]
    assert seen["hidden_tests"] == 2 and str(SECRET) not in json.dumps(seen)


def test_the_right_code_scores_every_scored_test(client: ApiClient, exercise_id: str):
    job = submit(client, exercise_id, CODING["solution_code"])
    assert job["status"] == "succeeded", job["error"]
    assert (job["output"]["score"], job["output"]["tests"]["total"]) == (1.0, 4)
    assert (job["output"]["tests"]["checks_passed"], job["output"]["tests"]["checks_total"]) == (1, 1)


@pytest.mark.parametrize("name", list(FORGERIES))
def test_a_forged_report_earns_nothing_and_the_submission_is_graded(
    client: ApiClient, exercise_id: str, name: str
):
    job = submit(client, exercise_id, FORGERIES[name])
    assert job["status"] == "succeeded", job["error"]
    assert job["output"]["score"] == 0.0 and job["output"]["tests"]["hidden_failed"] == 2, (
        name,
        job["output"],
    )
    assert str(SECRET) not in json.dumps(job)
    (submission,) = submissions(client, exercise_id)
    assert submission["status"] == "graded"


def wait_for_status(client: ApiClient, exercise_id: str, attempt: int, status: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        found = next(s for s in submissions(client, exercise_id) if s["attempt"] == attempt)
        if found["status"] == status or time.monotonic() > deadline:
            assert found["status"] == status, found
            return found
        time.sleep(0.2)


def test_a_grade_job_that_fails_leaves_the_submission_failed_not_grading(stack: Stack, client: ApiClient):
    # An exercise from before hidden tests had to be call tests: nothing the grader can decide.
    exercise_id = str(uuid.uuid4())
    key = {
        "answer": None,
        "rubric": None,
        "solution_code": "",
        "hidden_tests": [{"name": "h", "code": "x = 1"}],
    }
    stack.sql(
        """INSERT INTO exercises (id, owner_id, source, exercise_type, prompt, skills, visible_tests,
               hints, cited_chunk_ids, grounded, key)
           VALUES (%s, %s, 'authored', 'coding', 'Old exercise.', '[]', %s, '[]', '[]', false, %s)""",
        exercise_id,
        client.user_id,
        json.dumps([{"name": "v", "code": "x = 1\nassert x"}]),
        json.dumps(key),
    )
    job = submit(client, exercise_id, "x = 1\n")
    assert (job["status"], job["error"]["code"]) == ("failed", "exercise_not_gradable")
    failed = wait_for_status(client, exercise_id, 1, "failed")
    assert failed["result"]["error"]["code"] == "exercise_not_gradable"


def test_the_reconciler_finishes_submissions_whose_job_was_canceled_or_is_gone(
    stack: Stack, client: ApiClient, exercise_id: str
):
    # Rows as a canceled job and a deleted one leave them (the grade job never recorded anything).
    canceled = submit(client, exercise_id, CODING["solution_code"])
    gone = submit(client, exercise_id, CODING["solution_code"])
    stack.sql(
        "UPDATE submissions SET status = 'grading', result = NULL, graded_at = NULL WHERE job_id = ANY(%s)",
        [uuid.UUID(canceled["id"]), uuid.UUID(gone["id"])],
    )
    stack.sql("UPDATE jobs SET status = 'canceled', error = NULL WHERE id = %s", canceled["id"])
    stack.sql(
        "UPDATE submissions SET job_id = NULL, created_at = now() - interval '2 hours' WHERE job_id = %s",
        gone["id"],
    )
    attempts = sorted(s["attempt"] for s in submissions(client, exercise_id))
    assert (
        wait_for_status(client, exercise_id, attempts[-2], "failed")["result"]["error"]["code"] == "canceled"
    )
    assert (
        wait_for_status(client, exercise_id, attempts[-1], "failed")["result"]["error"]["code"] == "job_lost"
    )


def test_model_feedback_never_names_a_short_reference(
    admin_client: ApiClient, client: ApiClient, fake_ollama: FakeOllama
):
    response = admin_client.post(
        "/v1/admin/exercises",
        json={
            "exercise_type": "qa",
            "prompt": "Which organelle is the powerhouse of the cell?",
            "answer": "Mitochondria",
            "rubric": "names the organelle",
        },
    )
    exercise_id = wait_job(admin_client, response.json()["id"])["output"]["exercise_id"]
    marker = f"ribosome-{uuid.uuid4().hex[:8]}"
    fake_ollama.script(
        marker,
        json.dumps(
            {
                "score": 0.0,
                "correct": False,
                "feedback": "Ribosomes make proteins. The mitochondria are the powerhouse of the cell.",
                "mistakes": ["It is the Mitochondrion, not the ribosome.", "Ribosomes build proteins."],
                "hint_for_next_try": "Think of MITOCHONDRIAL DNA.",
            }
        ),
    )
    job = submit(client, exercise_id, f"Ribosome {marker}")
    output = job["output"]
    assert output["graded_by"] == "model" and "mitochondri" not in json.dumps(output).lower(), output
    assert output["feedback"] == "Ribosomes make proteins."
    assert output["mistakes"] == ["Ribosomes build proteins."] and output["hint_for_next_try"] == ""


def test_a_generated_exercise_never_hints_at_its_answer(client: ApiClient, fake_ollama: FakeOllama):
    topic = f"cell organelles {uuid.uuid4().hex[:8]}"
    hints = [
        "The mitochondria, of course.",
        "Think about energy. Mitochondrial DNA is a clue.",
        "Where is ATP made?",
    ]
    fake_ollama.script(
        topic,
        json.dumps(
            {
                "prompt": "Which organelle is the powerhouse of the cell?",
                "skills": ["biology"],
                "difficulty": None,
                "choices": [],
                "answer": "Mitochondria",
                "rubric": "names the organelle",
                "starter_code": None,
                "solution_code": None,
                "tests": [],
                "hints": hints,
                "cited_chunk_ids": [],
            }
        ),
    )
    response = client.post("/api/learning/exercises", json={"exercise_type": "qa", "topic": topic})
    job = wait_job(client, response.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    assert job["output"]["hints"] == ["Think about energy.", "Where is ATP made?"]
    shown = client.get(f"/api/learning/exercises/{job['output']['exercise_id']}").json()
    assert "mitochondri" not in json.dumps(shown).lower(), shown


def test_a_grade_falls_back_only_to_a_stored_hint_that_keeps_the_answer(
    admin_client: ApiClient, client: ApiClient, fake_ollama: FakeOllama
):
    # An author's hints are published as written; the grade still never passes one that names
    # the answer to a learner in place of the judge's removed hint.
    response = admin_client.post(
        "/v1/admin/exercises",
        json={
            "exercise_type": "qa",
            "prompt": "Which organelle makes most of the cell's ATP?",
            "answer": "Mitochondria",
            "hints": ["Mitochondria, obviously.", "It has its own DNA."],
        },
    )
    exercise_id = wait_job(admin_client, response.json()["id"])["output"]["exercise_id"]
    marker = f"golgi-{uuid.uuid4().hex[:8]}"
    verdict = {"score": 0.0, "correct": False, "feedback": "No.", "mistakes": [], "hint_for_next_try": ""}
    fake_ollama.script(marker, json.dumps({**verdict, "hint_for_next_try": "Say mitochondria."}))
    output = submit(client, exercise_id, f"Golgi {marker}")["output"]
    assert output["graded_by"] == "model" and output["hint_for_next_try"] == "It has its own DNA.", output


@pytest.mark.parametrize(
    ("reference", "answer"),
    [
        (
            "The GIL is released while a thread waits for I/O",
            "The GIL is not released while a thread waits for I/O",
        ),
        ("Refunds are paid within 3 weeks of the request", "Refunds are paid within 2 weeks of the request"),
        ("Germany invaded Poland in 1939", "Poland invaded Germany in 1939"),
        (  # the opposite beside the word itself: a ratio of 96, and no opposite the rules could see
            "Increasing the temperature increases the reaction rate",
            "Increasing the temperature decreases the reaction rate",
        ),
    ],
)
def test_an_answer_one_negation_number_or_swap_from_the_reference_goes_to_the_model(
    admin_client: ApiClient, client: ApiClient, fake_ollama: FakeOllama, reference: str, answer: str
):
    # A string one character from the reference can say the opposite: the shortcut that marks
    # near-identical answers correct without the model must not take it.
    marker = f"question-{uuid.uuid4().hex[:8]}"
    response = admin_client.post(
        "/v1/admin/exercises",
        json={"exercise_type": "qa", "prompt": f"State the fact ({marker}).", "answer": reference},
    )
    exercise_id = wait_job(admin_client, response.json()["id"])["output"]["exercise_id"]
    verdict = {
        "score": 0.0,
        "correct": False,
        "feedback": "Not quite.",
        "mistakes": [],
        "hint_for_next_try": "",
    }
    fake_ollama.script(marker, json.dumps(verdict))
    output = submit(client, exercise_id, answer)["output"]
    assert (output["graded_by"], output["score"]) == ("model", 0.0), output
    same = submit(client, exercise_id, reference + ".")["output"]
    assert (same["graded_by"], same["score"]) == ("fuzzy", 1.0)
