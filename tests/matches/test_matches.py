"""Matches end to end on the real stack: the real ollama client against the fake server's scripted
answers, the checks in code, the score in code, the plan's jobs, the score moving with progress,
the reports read back with poppler, and what a hostile or careless caller sends."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import ApiClient
from tests.profiles.support import profile, wait_job
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack

ARTIFACTS = Path(__file__).resolve().parents[2] / ".test-artifacts" / "matches"
TARGET = """Junior data engineer {marker}

Requirements:
- You must write SQL every day, with a working knowledge of query plans.
- Solid Python experience for our pipelines.
- No Java experience is required.

Nice to have:
- Some exposure to Docker would be great.
"""


def requirements_answer(**extra) -> str:
    return json.dumps(
        {
            "requirements": [
                {
                    "skill": "SQL",
                    "level": None,
                    "importance": "must",
                    "quote": "You must write SQL every day",
                },
                {
                    "skill": "Python",
                    "level": "advanced",  # the target says "Solid": intermediate
                    "importance": "must",
                    "quote": "Solid Python experience for our pipelines",
                },
                {
                    "skill": "Docker",
                    "level": None,
                    "importance": "must",  # the target says "Nice to have"
                    "quote": "Some exposure to Docker would be great",
                },
                # Invented: the target never says it.
                {
                    "skill": "Kubernetes",
                    "level": None,
                    "importance": "must",
                    "quote": "You will run Kubernetes",
                },
                # Said the other way round.
                {
                    "skill": "Java",
                    "level": None,
                    "importance": "must",
                    "quote": "Java experience is required",
                },
            ],
            **extra,
        }
    )


def set_skills(client: ApiClient, skills: list[dict], display_name: str | None = None) -> None:
    _, etag = profile(client)
    body = {"skills": skills, **({"display_name": display_name} if display_name else {})}
    response = client.patch("/api/profiles/me", json=body, headers={"If-Match": etag})
    assert response.status_code == 200, response.text


def start_match(
    client: ApiClient, fake_ollama: FakeOllama, answer: str | None = None, *, marker: str | None = None
) -> tuple[dict, str]:
    marker = marker or uuid.uuid4().hex
    fake_ollama.script(marker, answer or requirements_answer(score=97))
    response = client.post("/api/matches", json={"target": {"text": TARGET.format(marker=marker)}})
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == f"/api/matches/{response.json()['id']}"
    return response.json(), marker


def finished_match(client: ApiClient, fake_ollama: FakeOllama) -> tuple[dict, dict]:
    created, _ = start_match(client, fake_ollama)
    job = wait_job(client, created["job"]["id"])
    assert job["status"] == "succeeded", job
    return job, client.get(f"/api/matches/{created['id']}").json()


def record(client: ApiClient, skill: str, score: float) -> None:
    response = client.post(
        "/api/profiles/progress",
        json={"completed_task": f"practice {uuid.uuid4().hex[:6]}", "skills": [skill], "score": score},
    )
    assert response.status_code in (200, 201, 202), response.text


def test_a_match_scores_in_code_with_evidence_and_plans_the_gaps(client: ApiClient, fake_ollama: FakeOllama):
    set_skills(client, [{"name": "sql", "level": "intermediate"}, {"name": "Python", "level": "beginner"}])
    job, match = finished_match(client, fake_ollama)
    output = job["output"]
    # Two requirements dropped (invented, negated); the model's own "score" seen and ignored.
    assert output["requirements"] == 3 and output["dropped_unsupported"] == 2
    assert {d["name"]: d["reason"] for d in output["dropped"]} == {
        "Kubernetes": "not_in_source",
        "Java": "negation",
    }
    # From the target's words: SQL's and Python's levels ("working knowledge", "Solid"), Docker's importance.
    assert output["ignored_model_fields"] == ["score"] and output["corrected"] == 3
    # SQL met (3 x 1), Python below the level (3 x 0.5), Docker missing (1 x 0): 4.5 / 7.
    assert output["score"] == match["score"] == 64.3
    assert match["status"] == "succeeded" and match["learner"]
    by_skill = {r["skill"]: r for r in match["requirements"]}
    assert by_skill["Python"]["level"] == "intermediate" and by_skill["Docker"]["importance"] == "nice"
    assert [r["skill"] for r in match["strengths"]] == ["SQL"]
    assert by_skill["SQL"]["evidence"]["target_quote"] == "You must write SQL every day"
    assert by_skill["SQL"]["evidence"]["candidate"]["source"] == "profile"
    assert [r["skill"] for r in match["gaps"]] == ["Python", "Docker"]
    # The plan: must-haves first, each gap a resources job and an exercise job of the learner's.
    assert [p["skill"] for p in match["plan"]] == ["Python", "Docker"]
    for item in match["plan"]:
        assert not item["closed"] and item["recommendation"].startswith(("Required", "Nice to have"))
        for part, kind in (("resources_job", "resources"), ("exercise_job", "exercise")):
            assert client.get(f"/v1/jobs/{item[part]['job_id']}").json()["kind"] == kind
    assert [(p["score"], p["reason"]) for p in match["history"]] == [(64.3, "computed")]
    listed = client.get("/api/matches").json()["items"]
    assert [m["id"] for m in listed] == [match["id"]] and listed[0]["score"] == 64.3


def test_mastery_closes_a_gap_and_moves_the_score_with_history(client: ApiClient, fake_ollama: FakeOllama):
    set_skills(client, [{"name": "SQL", "level": "advanced"}])
    _, match = finished_match(client, fake_ollama)
    assert match["score"] == round(100 * 3 / 7, 1)
    record(client, "Python", 1.0)  # BKT: 0.69, half way: partly met
    record(client, "python", 0.9)  # 0.92, past the 0.8 threshold: met
    after = client.get(f"/api/matches/{match['id']}").json()
    assert [(p["score"], p["reason"]) for p in after["history"]] == [
        (42.9, "computed"),
        (64.3, "progress"),
        (85.7, "progress"),
    ]
    assert after["history"][-1]["closed_gaps"] == ["Python"]
    python = next(item for item in after["plan"] if item["skill"] == "Python")
    assert python["closed"] and python["closed_at"]
    assert next(r for r in after["requirements"] if r["skill"] == "Python")["because"] == "met_by_mastery"
    # A wrong answer on an unrelated skill moves nothing.
    record(client, "Haskell", 0.0)
    assert len(client.get(f"/api/matches/{match['id']}").json()["history"]) == 3


def test_a_second_match_against_a_target_reuses_its_requirements(client: ApiClient, fake_ollama: FakeOllama):
    job, match = finished_match(client, fake_ollama)
    again = client.post("/api/matches", json={"target_id": match["target_id"]})
    assert again.status_code == 202, again.text
    second = wait_job(client, again.json()["job"]["id"])
    assert second["status"] == "succeeded" and second["output"]["requirements_reused"] is True
    assert second["output"]["score"] == job["output"]["score"]
    target = client.get(f"/api/targets/{match['target_id']}").json()
    assert [r["skill"] for r in target["requirements"]] == ["SQL", "Python", "Docker"]


def test_reports_say_what_the_match_says_in_pdf_markdown_and_json(
    client: ApiClient, fake_ollama: FakeOllama, tmp_path: Path
):
    name = "Zoë Łukasiewicz 李小龍"
    set_skills(client, [{"name": "SQL", "level": "intermediate"}], display_name=name)
    _, match = finished_match(client, fake_ollama)
    as_json = client.get(f"/api/matches/{match['id']}/report.json").json()
    assert as_json["score"] == match["score"] and as_json["learner"] == name
    markdown = client.get(f"/api/matches/{match['id']}/report.md")
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "## Gaps" in markdown.text and '"You must write SQL every day"' in markdown.text
    assert f"Score: **{match['score']:g} / 100**" in markdown.text

    response = client.get(f"/api/matches/{match['id']}/report.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True, text=True
    ).stdout
    assert name in text  # Latin with diacritics and CJK, through the fallback font
    assert f"Score: {match['score']:g} / 100" in text
    for words in ("How the score was computed", "Strengths", "Gaps", "Plan", "You must write SQL every day"):
        assert words in text
    # The first page as an image (docs/api/matches.md shows one from this run: docs/screenshots/).
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "70",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(pdf),
            str(ARTIFACTS / "report"),
        ],
        check=True,
    )
    page = ARTIFACTS / "report.png"
    assert page.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and page.stat().st_size > 5_000


def test_a_report_waits_for_the_result(client: ApiClient, fake_ollama: FakeOllama, nothing_runs_jobs):
    created, _ = start_match(client, fake_ollama)
    assert client.get(f"/api/matches/{created['id']}").json()["status"] == "queued"
    for suffix in ("pdf", "md", "json"):
        response = client.get(f"/api/matches/{created['id']}/report.{suffix}")
        assert response.status_code == 409 and response.json()["code"] == "match_not_ready"


def test_a_cv_is_read_like_a_profile_with_its_quotes_checked(client: ApiClient, fake_ollama: FakeOllama):
    target_marker, cv_marker = uuid.uuid4().hex, uuid.uuid4().hex
    fake_ollama.script(target_marker, requirements_answer())
    cv = (
        f"Curriculum vitae {cv_marker}.\n"
        "I have written Python every day for five years.\nI know a bit of Docker."
    )
    fake_ollama.script(
        cv_marker,
        json.dumps(
            {
                "skills": [
                    {
                        "name": "Python",
                        "level": "advanced",
                        "evidence": "written Python every day for five years",
                    },
                    {"name": "Docker", "level": "advanced", "evidence": "I know a bit of Docker"},
                    {
                        "name": "SQL",
                        "level": "advanced",
                        "evidence": "I write SQL every day",
                    },  # not in the CV
                ]
            }
        ),
    )
    target = client.post(
        "/api/targets", json={"title": "Data role", "text": TARGET.format(marker=target_marker)}
    )
    assert target.status_code == 201 and target.json()["requirements"] is None
    response = client.post(
        "/api/matches",
        data={"target_id": target.json()["id"]},
        files={"cv": ("cv.txt", cv.encode(), "text/plain")},
    )
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["job"]["id"])
    assert job["status"] == "succeeded", job
    match = client.get(f"/api/matches/{response.json()['id']}").json()
    assert match["candidate"] == "cv"
    by_skill = {r["skill"]: r for r in match["requirements"]}
    assert (
        by_skill["Python"]["status"] == "met"
        and "five years" in by_skill["Python"]["evidence"]["candidate"]["quote"]
    )
    assert by_skill["Docker"]["status"] == "met"  # "a bit of": beginner, and the target asks for beginner
    assert by_skill["SQL"]["status"] == "gap"
    assert {(d["side"], d["name"]) for d in job["output"]["dropped"]} >= {
        ("candidate", "SQL"),
        ("target", "Kubernetes"),
    }


@pytest.mark.parametrize(
    "answer",
    [
        json.dumps({"requirements": []}),
        json.dumps(
            {
                "requirements": [
                    {"skill": "Go", "importance": "must", "quote": "Go is our main language every day"}
                ]
            }
        ),
    ],
    ids=["none", "all invented"],
)
def test_a_target_without_requirements_fails_clearly(client: ApiClient, fake_ollama: FakeOllama, answer: str):
    created, _ = start_match(client, fake_ollama, answer)
    job = wait_job(client, created["job"]["id"])
    assert job["status"] == "failed" and job["error"]["code"] == "no_requirements", job
    assert client.get(f"/api/matches/{created['id']}").json()["status"] == "failed"


def test_bad_targets_and_candidates_are_refused(client: ApiClient, stack: Stack):
    # 5 MB: refused by the API's body limit before any route reads it.
    huge = client.post("/api/targets", json={"text": "SQL and Python. " * 330_000})
    assert huge.status_code == 413 and huge.json()["code"] == "payload_too_large"
    # Within the body limit, over a target's (MENTORQ_MAX_TARGET_CHARS, 60,000 by default).
    too_large = client.post("/api/matches", json={"target": {"text": "SQL and Python. " * 5_000}})
    assert too_large.status_code == 413 and too_large.json()["code"] == "target_too_large"
    blank = client.post("/api/targets", json={"text": "   \n  "})
    assert blank.status_code == 422 and blank.json()["code"] == "empty_target"
    both = client.post("/api/targets", json={"text": "x", "document_id": str(uuid.uuid4())})
    assert both.status_code == 422
    missing = client.post("/api/matches", json={"target": {"document_id": str(uuid.uuid4())}})
    assert missing.status_code == 404 and missing.json()["code"] == "document_not_found"
    unknown_target = client.post("/api/matches", json={"target_id": str(uuid.uuid4())})
    assert unknown_target.status_code == 404 and unknown_target.json()["code"] == "target_not_found"
    target = client.post("/api/targets", json={"text": TARGET.format(marker="x")}).json()
    binary = client.post(
        "/api/matches",
        data={"target_id": target["id"]},
        files={"cv": ("cv.pdf", b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 8, "application/pdf")},
    )
    assert binary.status_code == 415 and binary.json()["code"] == "unsupported_type", binary.text
    assert client.get("/api/matches").json()["items"] == []  # nothing made by a refusal


def test_a_library_document_becomes_a_target_and_a_deleted_one_cannot(client: ApiClient):
    text = "Backend role. You must know SQL well and write Python daily."
    document = client.post("/v1/documents/text", json={"title": "Backend role", "text": text}).json()
    assert wait_job(client, document["job"]["id"])["status"] == "succeeded"
    document_id = document["document"]["id"]
    target = client.post("/api/targets", json={"document_id": document_id})
    assert target.status_code == 201, target.text
    assert target.json()["title"] == "Backend role" and target.json()["source_document_id"] == document_id
    assert client.delete(f"/v1/documents/{document_id}").status_code in (202, 204)
    response = client.post("/api/matches", json={"target": {"document_id": document_id}})
    assert response.status_code == 404 and response.json()["code"] == "document_not_found"
    # The target made before keeps its copy of the text.
    kept = client.get(f"/api/targets/{target.json()['id']}").json()
    assert kept["chars"] == len(text) and kept["source_document_id"] is None


def test_another_users_match_and_target_are_404(
    client: ApiClient, other_client: ApiClient, fake_ollama: FakeOllama
):
    created, _ = start_match(client, fake_ollama)
    for path in (
        f"/api/matches/{created['id']}",
        f"/api/matches/{created['id']}/report.pdf",
        f"/api/targets/{created['target_id']}",
    ):
        response = other_client.get(path)
        assert response.status_code == 404 and response.json()["code"] in (
            "match_not_found",
            "target_not_found",
        )
    assert other_client.delete(f"/api/matches/{created['id']}").status_code == 404
    assert other_client.post("/api/matches", json={"target_id": created["target_id"]}).status_code == 404
    assert client.get(f"/api/matches/{created['id']}").status_code == 200
    wait_job(client, created["job"]["id"])
    assert client.delete(f"/api/matches/{created['id']}").status_code == 204
    assert client.get(f"/api/matches/{created['id']}").status_code == 404
    assert client.delete(f"/api/targets/{created['target_id']}").status_code == 204


def test_a_retried_match_never_plans_twice(client: ApiClient, fake_ollama: FakeOllama, stack: Stack):
    """The result and the plan are written only where no result is yet: an attempt that runs again
    after its commit (a worker lost before it could finish the job) leaves them as they were."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from db import matches
    from db.session import sqlalchemy_url

    set_skills(client, [{"name": "SQL", "level": "advanced"}])
    _, match = finished_match(client, fake_ollama)
    engine = create_engine(sqlalchemy_url(stack.database_url))
    try:
        with Session(engine) as session:
            again = matches.save_result(
                session, match_id=uuid.UUID(match["id"]), candidate=[], entries=[], score=0.0
            )
            session.commit()
    finally:
        engine.dispose()
    assert again is False
    after = client.get(f"/api/matches/{match['id']}").json()
    assert after["score"] == match["score"] and len(after["history"]) == 1
    assert [p["skill"] for p in after["plan"]] == [p["skill"] for p in match["plan"]]


def test_admins_see_every_learners_matches_read_only_and_the_stats_count_them(
    client: ApiClient, admin_client: ApiClient, fake_ollama: FakeOllama, stack: Stack
):
    from tests.console.support import console_sign_in

    _, match = finished_match(client, fake_ollama)
    stats = admin_client.get("/v1/admin/stats").json()
    assert stats["hour"]["by_kind"]["match"]["by_status"]["succeeded"] >= 1
    assert stats["library"]["matches"] >= 1 and stats["library"]["targets"] >= 1
    console = console_sign_in(stack, admin_client).client  # type: ignore[attr-defined]
    listing = console.get("/admin/matches")
    assert listing.status_code == 200 and client.email in listing.text
    assert f"/admin/matches/{match['id']}" in listing.text
    page = console.get(f"/admin/matches/{match['id']}")
    assert page.status_code == 200 and "You must write SQL every day" in page.text
    assert 'method="post"' not in page.text.split("<main", 1)[-1]  # nothing to change here
    learner = console_sign_in(stack, client).client  # type: ignore[attr-defined]
    assert learner.get(f"/admin/matches/{match['id']}").status_code in (302, 303, 403)


def test_a_match_deleted_while_it_runs_fails_clearly_and_plans_nothing(
    client: ApiClient, fake_ollama: FakeOllama, stack: Stack
):
    import time

    # The model's answer is held until the DELETE is answered, so the order does not hang on the
    # machine's speed (with a slow stream instead, a loaded machine once finished the job first).
    marker = uuid.uuid4().hex
    released = fake_ollama.hold(marker)
    created, _ = start_match(client, fake_ollama, marker=marker)
    # The job may queue behind earlier tests' plan jobs on the shared worker: wait for it to run.
    deadline = time.monotonic() + 120
    while (status := client.get(f"/v1/jobs/{created['job']['id']}").json()["status"]) != "running":
        assert status == "queued" and time.monotonic() < deadline, status
        time.sleep(0.05)
    assert client.delete(f"/api/matches/{created['id']}").status_code == 204
    released.set()
    job = wait_job(client, created["job"]["id"])
    assert job["status"] == "failed" and job["error"]["code"] == "match_not_found", job
    planned = stack.sql(
        "SELECT count(*) FROM jobs WHERE owner_id = %s AND kind IN ('resources', 'exercise')", client.user_id
    )
    assert planned == [(0,)]


def test_a_hostile_target_field_in_a_cv_upload_is_refused_not_a_server_error(client: ApiClient):
    """The multipart `target` field is JSON the API parses: nested 100,000 deep, cut short, or of the
    wrong shape, it is the same clear refusal a JSON body gets (the standard library's parser raised
    RecursionError on the first: a 500)."""
    target = client.post("/api/targets", json={"text": TARGET.format(marker="x")}).json()
    both = json.dumps({"text": "x", "document_id": target["id"]})
    for raw, status, code in (
        ("[" * 100_000, 400, "malformed_json"),
        ('{"text": ', 400, "malformed_json"),
        (both, 422, "validation_error"),
    ):
        response = client.post(
            "/api/matches",
            data={"target": raw},
            files={"cv": ("cv.txt", b"I write Python every day.", "text/plain")},
        )
        assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert client.get("/api/matches").json()["items"] == []
