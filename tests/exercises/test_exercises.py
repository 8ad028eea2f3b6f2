"""Exercises and grading on the real stack: the real ollama client against the fake server's
scripted drafts, the publish gate (with the code sandbox for coding), keys never shown, grading of
each type, and the learner model moving."""

from __future__ import annotations

import json
import uuid

from tests.conftest import ApiClient
from tests.documents.test_api import ingest
from tests.profiles.support import wait_job
from tests.support.fake_ollama import FakeOllama

ADD_TESTS = [
    {"name": "adds small numbers", "code": "assert add(2, 3) == 5", "hidden": False},
    {"name": "adds negatives", "code": "assert add(-2, -3) == -5", "hidden": False},
    # A hidden test is a call test: what it expects never enters the sandbox.
    {"name": "secret zero case", "call": "add(0, 0)", "expected": "0", "hidden": True},
]


def draft(**fields) -> str:
    answer = {
        "prompt": "?",
        "skills": [],
        "difficulty": None,
        "choices": [],
        "answer": None,
        "rubric": None,
        "starter_code": None,
        "solution_code": None,
        "tests": [],
        "hints": ["Think it through."],
        "cited_chunk_ids": [],
    }
    answer.update(fields)
    return json.dumps(answer)


def generate(client: ApiClient, **body) -> dict:
    response = client.post("/api/learning/exercises", json=body)
    assert response.status_code == 202, response.text
    return wait_job(client, response.json()["id"])


def submit(client: ApiClient, exercise_id: str, answer: str) -> dict:
    response = client.post(f"/api/learning/exercises/{exercise_id}/submissions", json={"answer": answer})
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    return job["output"]


def mastery(client: ApiClient) -> dict[str, float]:
    return {m["skill"]: m["p_known"] for m in client.get("/api/profiles/progress").json()["mastery"]}


def test_multiple_choice_regenerated_until_it_passes_the_gate_then_graded_exactly(
    client: ApiClient, fake_ollama: FakeOllama
):
    topic = f"photosynthesis {uuid.uuid4().hex[:8]}"
    secret_rubric = "Chlorophyll absorbs light: the rubric nobody may see"
    fake_ollama.script(
        topic,
        # Rejected: two options, and the answer is not one of them.
        draft(prompt="What absorbs light?", choices=["Water", "Salt"], answer="Chlorophyll"),
        draft(
            prompt="What absorbs light in a leaf?",
            skills=["plant biology"],
            choices=["Water", "Chlorophyll", "Salt", "Sand"],
            answer="Chlorophyll",
            rubric=secret_rubric,
        ),
    )
    job = generate(client, exercise_type="multiple_choice", topic=topic)
    assert job["status"] == "succeeded", job["error"]
    output = job["output"]
    assert output["drafts"] == 2 and "the correct answer is not one of the options" in output["rejected"][0]
    assert output["grounded"] is False  # nothing in the library on a made-up topic, and it says so
    assert "general knowledge" in output["grounding_note"]
    exercise = client.get(f"/api/learning/exercises/{output['exercise_id']}")
    assert exercise.status_code == 200
    # The key is nowhere in what the learner can read: not in the job, not in the exercise.
    for raw in (json.dumps(job), exercise.text):
        assert secret_rubric not in raw and '"answer"' not in raw and '"rubric"' not in raw

    refused = client.post(
        f"/api/learning/exercises/{output['exercise_id']}/submissions", json={"answer": "Oil"}
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_choice")
    wrong = submit(client, output["exercise_id"], "Water")
    assert (wrong["correct"], wrong["score"], wrong["graded_by"]) == (False, 0.0, "exact")
    low = mastery(client)["plant biology"]
    right = submit(client, output["exercise_id"], "  chlorophyll ")
    assert (right["correct"], right["attempt"]) == (True, 2)
    assert mastery(client)["plant biology"] > low
    listed = client.get(f"/api/learning/exercises/{output['exercise_id']}/submissions").json()
    assert listed["attempts"] == 2 and [s["result"]["correct"] for s in listed["submissions"]] == [
        False,
        True,
    ]


def test_coding_exercise_checked_in_the_sandbox_and_graded_by_its_tests(
    client: ApiClient, fake_ollama: FakeOllama
):
    topic = f"addition functions {uuid.uuid4().hex[:8]}"
    fake_ollama.script(
        topic,
        draft(
            prompt="Write add(a, b) returning the sum.",
            skills=["python functions"],
            starter_code="def add(a, b):\n    pass\n",
            solution_code="def add(a, b):\n    return a + b\n",
            tests=ADD_TESTS,
        ),
    )
    job = generate(client, exercise_type="coding", topic=topic)
    assert job["status"] == "succeeded", job["error"]
    exercise_id = job["output"]["exercise_id"]
    # Ollama decodes under the coding schema (its `format`), as strict as the gate: a solution and
    # visible and hidden examples required, citations only of passages shown (none here).
    asked = next(
        b for path, b in reversed(fake_ollama.bodies) if path == "/api/chat" and topic in json.dumps(b)
    )
    assert asked["format"]["required"][:4] == ["prompt", "solution_code", "examples", "hidden_example"]
    assert asked["format"]["properties"]["examples"]["minItems"] == 2
    assert asked["format"]["properties"]["cited_chunk_ids"]["maxItems"] == 0
    assert job["output"]["hidden_tests"] == 1 and len(job["output"]["visible_tests"]) == 2
    assert "secret zero case" not in json.dumps(job) and "return a + b" not in json.dumps(job)

    half = submit(client, exercise_id, "def add(a, b):\n    return a + b if a > 0 else 1\n")
    assert half["tests"] == {
        "passed": 1,
        "total": 3,
        "failed_visible": ["adds negatives"],
        "hidden_failed": 1,
        "checks_passed": 0,
        "checks_total": 0,
    }
    assert "adds negatives" in half["feedback"] and "1 hidden test failed" in half["feedback"]
    assert "secret zero case" not in json.dumps(half) and "add(0, 0)" not in json.dumps(half)

    looping = submit(client, exercise_id, "def add(a, b):\n    while True:\n        pass\n")
    assert (looping["limit"], looping["score"]) == ("timeout", 0.0) and "ran out of time" in looping[
        "feedback"
    ]
    escaping = submit(client, exercise_id, "import socket\nsocket.create_connection(('127.0.0.1', 80))\n")
    assert escaping["limit"] == "forbidden" and escaping["score"] == 0.0

    right = submit(client, exercise_id, "def add(a, b):\n    return b + a\n")
    assert (right["score"], right["correct"], right["limit"]) == (1.0, True, None)
    assert right["mastery"][0]["skill"] == "python functions"


def test_drafts_that_never_pass_fail_the_job_with_the_reasons(client: ApiClient, fake_ollama: FakeOllama):
    topic = f"subtraction {uuid.uuid4().hex[:8]}"
    broken = draft(
        prompt="Write sub(a, b).",
        starter_code="def sub(a, b):\n    return a - b\n",  # already passes
        solution_code="def sub(a, b):\n    return a + b\n",  # fails its own tests
        tests=[{"name": "subtracts", "code": "assert sub(5, 3) == 2", "hidden": False}],
        cited_chunk_ids=[987654321],  # a chunk the search never returned
    )
    fake_ollama.script(topic, broken, broken, broken)
    job = generate(client, exercise_type="coding", topic=topic)
    assert (job["status"], job["error"]["code"]) == ("failed", "exercise_rejected")
    reasons = job["error"]["details"]["reasons"]
    assert len(reasons) == 3
    assert any("cites chunks the search did not return" in reason for reason in reasons[0])
    assert client.get(f"/v1/jobs/{job['id']}").json()["output"] is None


def test_short_answers_fuzzy_at_once_or_judged_by_the_model_without_leaking_the_key(
    client: ApiClient, fake_ollama: FakeOllama
):
    topic = f"spaced practice {uuid.uuid4().hex[:8]}"
    reference = "Spacing reviews out over days makes memories last longer than cramming"
    fake_ollama.script(
        topic,
        draft(
            prompt="Why space out reviews?", skills=["memory"], answer=reference, rubric="mentions forgetting"
        ),
    )
    exercise_id = generate(client, exercise_type="qa", topic=topic)["output"]["exercise_id"]

    near = submit(
        client, exercise_id, "spacing reviews out over days makes memories last longer than cramming!"
    )
    assert (near["graded_by"], near["correct"]) == ("fuzzy", True)

    marker = f"answer-{uuid.uuid4().hex[:8]}"
    fake_ollama.script(
        marker,
        json.dumps(
            {
                "score": 0.3,
                "correct": True,  # contradicts its own score: the score decides
                "feedback": f"You missed the main point. The answer is: {reference}. Try again.",
                "mistakes": ["no mention of forgetting"],
                "hint_for_next_try": "Think about the forgetting curve.",
            }
        ),
    )
    judged = submit(client, exercise_id, f"Because it is nice ({marker})")
    assert (judged["graded_by"], judged["score"], judged["correct"]) == ("model", 0.3, False)
    assert reference.lower() not in judged["feedback"].lower() and "Try again." in judged["feedback"]
    assert judged["hint_for_next_try"] == "Think about the forgetting curve."


def test_other_learners_exercises_are_not_found_and_huge_answers_are_refused(
    client: ApiClient, other_client: ApiClient, fake_ollama: FakeOllama
):
    topic = f"rivers {uuid.uuid4().hex[:8]}"
    fake_ollama.script(topic, draft(prompt="Longest river?", answer="The Nile", rubric="names the Nile"))
    exercise_id = generate(client, exercise_type="qa", topic=topic)["output"]["exercise_id"]
    assert other_client.get(f"/api/learning/exercises/{exercise_id}").status_code == 404
    theirs = other_client.post(f"/api/learning/exercises/{exercise_id}/submissions", json={"answer": "Nile"})
    assert (theirs.status_code, theirs.json()["code"]) == (404, "exercise_not_found")
    huge = client.post(f"/api/learning/exercises/{exercise_id}/submissions", json={"answer": "x" * 70_000})
    assert (huge.status_code, huge.json()["code"]) == (413, "answer_too_large")
    assert client.get(f"/api/learning/exercises/{uuid.uuid4()}").status_code == 404


def test_an_exercise_made_in_a_session_shows_in_it_with_its_grade(client: ApiClient, fake_ollama: FakeOllama):
    topic = f"tides {uuid.uuid4().hex[:8]}"
    fake_ollama.script(
        topic,
        draft(prompt="What mostly drives tides?", choices=["The Moon", "Wind", "Rivers"], answer="The Moon"),
    )
    session_id = client.post("/api/sessions", json={"title": "Oceans"}).json()["id"]
    job = generate(client, exercise_type="multiple_choice", topic=topic, session_id=session_id)
    exercise_id = job["output"]["exercise_id"]
    graded = submit(client, exercise_id, "The Moon")
    detail = client.get(f"/api/sessions/{session_id}").json()
    assert [e["id"] for e in detail["exercises"]] == [exercise_id]
    assert "answer" not in detail["exercises"][0]
    assert [e["completed_task"] for e in detail["progress"]] == ["Exercise: What mostly drives tides?"]
    assert graded["correct"] is True and {j["kind"] for j in detail["jobs"]} == {"exercise", "grade"}


def test_an_exercise_on_what_the_library_holds_is_grounded_and_cites_it(
    client: ApiClient, fake_ollama: FakeOllama
):
    word = f"vexillology{uuid.uuid4().hex[:6]}"
    document = ingest(
        client, "flags.md", f"# {word}\n\n{word} is the study of flags.\n".encode(), collection="flags"
    )
    chunk = client.post("/v1/search", json={"query": word, "collections": ["flags"]}).json()["items"][0]
    fake_ollama.script(
        word,
        draft(
            prompt=f"What is {word}?",
            answer="The study of flags.",
            rubric="says flags",
            cited_chunk_ids=[chunk["chunk_id"]],
        ),
    )
    output = generate(client, exercise_type="qa", topic=word)["output"]
    assert chunk["document_id"] == document["id"]
    assert (output["grounded"], output["grounding_note"], output["cited_chunk_ids"]) == (
        True,
        None,
        [chunk["chunk_id"]],
    )
