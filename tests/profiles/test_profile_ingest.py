"""Profile ingestion end to end: the real ollama client against the fake server's scripted answers,
real parsing, the evidence check, revisions."""

from __future__ import annotations

import json
import threading
import uuid

from tests.conftest import ApiClient
from tests.profiles.support import extraction, profile, wait_job
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack

INTRO = (
    "Hi, I'm Marta Silva {marker}. I have been writing Python for data analysis for three years "
    "and I use SQL every day at work. Lately I am fascinated by marine biology documentaries. "
    "My goal is to become a machine learning engineer by next summer."
)


def _intro(marker: str) -> str:
    return INTRO.format(marker=marker)


def _good_answer() -> str:
    return extraction(
        display_name="Marta Silva",
        bio="Marta analyses data with Python and SQL and wants to move into machine learning.",
        bio_evidence="I have been writing Python for data analysis for three years",
        level="intermediate",
        skills=[
            {
                "name": "Python",
                "level": "intermediate",
                "evidence": "writing Python for data analysis for three years",
            },
            {"name": "SQL", "level": None, "evidence": "I use SQL every day at work"},
            # Invented: the quote is not in the source.
            {
                "name": "Kubernetes",
                "level": "advanced",
                "evidence": "I run Kubernetes clusters in production",
            },
            # A real quote carrying an invented skill.
            {"name": "Haskell", "level": "advanced", "evidence": "I use SQL every day at work"},
        ],
        interests=[{"name": "marine biology", "evidence": "fascinated by marine biology documentaries"}],
        goals=[
            {
                "name": "become a machine learning engineer",
                "evidence": "become a machine learning engineer by next summer",
            }
        ],
    )


def _ingest_text(client: ApiClient, text: str, **extra) -> dict:
    response = client.post("/api/profiles/ingest", json={"text": text, **extra})
    assert response.status_code == 202, response.text
    return response.json()


def test_ingestion_keeps_only_what_the_source_supports(client: ApiClient, fake_ollama: FakeOllama):
    marker = uuid.uuid4().hex
    fake_ollama.script(marker, _good_answer())
    job = wait_job(client, _ingest_text(client, _intro(marker))["id"])
    assert job["status"] == "succeeded", job
    output = job["output"]
    assert [s["name"] for s in output["skills"]] == ["Python", "SQL"]
    assert output["interests"] == ["marine biology"] and output["goals"] == [
        "become a machine learning engineer"
    ]
    assert output["dropped_unsupported"] == 2
    assert {d["name"] for d in output["dropped"]} == {"Kubernetes", "Haskell"}

    me, etag = profile(client)
    assert etag == f'"{output["revision"]}"' and output["revision"] == 2
    assert me["display_name"] == "Marta Silva" and me["level"] == "intermediate"
    assert "Kubernetes" not in json.dumps(me)
    assert "## Skills" in me["wiki_content"] and "Python (intermediate)" in me["wiki_content"]
    latest = client.get("/api/profiles/me/revisions").json()["items"][0]
    assert latest["source"] == f"ingest:{job['id']}"


def test_fenced_json_and_a_prose_answer_are_repaired(client: ApiClient, fake_ollama: FakeOllama):
    marker = uuid.uuid4().hex
    fake_ollama.script(marker, "Sure! Here is the profile you asked for.", f"```json\n{_good_answer()}\n```")
    job = wait_job(client, _ingest_text(client, _intro(marker))["id"])
    assert job["status"] == "succeeded", job
    assert [s["name"] for s in job["output"]["skills"]] == ["Python", "SQL"]
    chat_requests = [b for path, b in fake_ollama.bodies if path == "/api/chat" and marker in json.dumps(b)]
    assert len(chat_requests) == 2
    assert "previous answer was invalid" in chat_requests[-1]["messages"][-1]["content"]


def test_answers_still_wrong_after_the_repair_fail_and_leave_the_profile_alone(
    client: ApiClient, fake_ollama: FakeOllama
):
    before, etag = profile(client)
    for bad in (
        "I think this person likes Python.",  # prose
        '{"skills": [{"name": "Python"',  # broken JSON
        json.dumps({"skills": "Python, SQL"}),  # wrong type
        json.dumps({"skills": [{"level": "advanced"}]}),  # missing field
    ):
        marker = uuid.uuid4().hex
        fake_ollama.script(marker, bad)
        job = wait_job(client, _ingest_text(client, _intro(marker))["id"])
        assert job["status"] == "failed" and job["error"]["code"] == "llm_invalid_output", job
        assert job["error"]["details"]["raw_text"] == bad
    after, etag_after = profile(client)
    assert (after, etag_after) == (before, etag)


def test_long_sources_are_read_in_windows_and_merged(client: ApiClient, fake_ollama: FakeOllama):
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    filler = " ".join(["and then we talked about the weather for a while"] * 150)  # 1,500 words
    text = (
        f"{first} I teach chemistry at a secondary school. {filler} "
        f"{second} I also play the cello in an amateur orchestra and want to learn music theory."
    )
    fake_ollama.script(
        first,
        extraction(
            bio="A chemistry teacher.",
            bio_evidence="I teach chemistry at a secondary school",
            skills=[
                {
                    "name": "chemistry",
                    "level": "advanced",
                    "evidence": "I teach chemistry at a secondary school",
                }
            ],
        ),
    )
    fake_ollama.script(
        second,
        extraction(
            bio="A chemistry teacher who plays the cello in an amateur orchestra.",
            bio_evidence="I also play the cello in an amateur orchestra",
            skills=[
                {
                    "name": "Chemistry",
                    "level": "beginner",
                    "evidence": "I teach chemistry at a secondary school",
                },
                {"name": "cello", "level": None, "evidence": "play the cello in an amateur orchestra"},
            ],
            goals=[{"name": "learn music theory", "evidence": "want to learn music theory"}],
        ),
    )
    job = wait_job(client, _ingest_text(client, text)["id"])
    assert job["status"] == "succeeded", job
    output = job["output"]
    assert output["windows"] == 2
    # Unioned by normalized name, the higher level kept; the longest supported bio kept.
    assert output["skills"] == [{"name": "chemistry", "level": "advanced"}, {"name": "cello", "level": None}]
    assert output["goals"] == ["learn music theory"]
    assert output["bio"] == "A chemistry teacher who plays the cello in an amateur orchestra."


def test_files_are_parsed_with_the_document_parsers(client: ApiClient, fake_ollama: FakeOllama):
    marker = uuid.uuid4().hex
    fake_ollama.script(marker, _good_answer())
    markdown = f"# About me\n\n{_intro(marker)}\n".encode()
    response = client.post("/api/profiles/ingest", files={"file": ("about.md", markdown, "text/markdown")})
    assert response.status_code == 202, response.text
    assert response.json()["input"]["source"] == {
        "kind": "file",
        "filename": "about.md",
        "content_type": "text/markdown",
        "bytes": len(markdown),
    }
    job = wait_job(client, response.json()["id"])
    assert job["status"] == "succeeded" and job["output"]["kept"] == 4


def test_bad_sources_are_refused_with_stable_codes(stack: Stack, client: ApiClient):
    _, etag = profile(client)
    empty = client.post("/api/profiles/ingest", files={"file": ("empty.txt", b"   \n", "text/plain")})
    assert empty.status_code == 422 and empty.json()["code"] == "empty_document"
    binary = client.post(
        "/api/profiles/ingest",
        files={"file": ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")},
    )
    assert binary.status_code == 415 and binary.json()["code"] == "unsupported_type"
    huge = client.post("/api/profiles/ingest", files={"file": ("cv.txt", b"a " * 3_000_000, "text/plain")})
    assert huge.status_code == 413
    no_file = client.post("/api/profiles/ingest", files={"other": ("a.txt", b"hello", "text/plain")})
    assert no_file.status_code == 422
    wrong_type = client.post("/api/profiles/ingest", content=b"hello", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    nul = client.post("/api/profiles/ingest", json={"text": "I code\u0000 in C"})
    assert nul.status_code == 422

    # A PDF that is not one: accepted by its magic bytes, refused by the parser inside the job.
    corrupt = client.post(
        "/api/profiles/ingest", files={"file": ("cv.pdf", b"%PDF-1.7\n this is not a pdf", "application/pdf")}
    )
    assert corrupt.status_code == 202
    job = wait_job(client, corrupt.json()["id"])
    assert job["status"] == "failed" and job["error"]["code"] == "corrupt_document", job
    assert profile(client)[1] == etag  # nothing half-written
    assert stack.sql("SELECT count(*) FROM job_attachments WHERE job_id = %s", job["id"]) == [(1,)]


def test_two_ingestions_at_once_never_mix(client: ApiClient, fake_ollama: FakeOllama):
    one, two = uuid.uuid4().hex, uuid.uuid4().hex
    fake_ollama.token_delay_s = 0.002
    fake_ollama.script(
        one,
        extraction(
            skills=[{"name": "welding", "evidence": "I do welding of steel frames"}],
            goals=[{"name": "open a workshop", "evidence": "I want to open a workshop"}],
        ),
    )
    fake_ollama.script(
        two,
        extraction(
            skills=[{"name": "knitting", "evidence": "knitting wool sweaters is my hobby"}],
            interests=[{"name": "alpacas", "evidence": "I love alpacas"}],
        ),
    )
    texts = [
        f"{one} I do welding of steel frames. I want to open a workshop.",
        f"{two} Knitting wool sweaters is my hobby. I love alpacas.",
    ]
    jobs: list[dict] = []

    def send(text: str) -> None:
        jobs.append(_ingest_text(client, text))

    threads = [threading.Thread(target=send, args=(text,)) for text in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    finished = [wait_job(client, job["id"]) for job in jobs]
    assert all(job["status"] == "succeeded" for job in finished), finished
    assert sorted(job["output"]["revision"] for job in finished) == [2, 3]
    last = max(finished, key=lambda job: job["output"]["revision"])
    me, _ = profile(client)
    assert (me["skills"], me["interests"], me["goals"]) == (
        last["output"]["skills"],
        last["output"]["interests"],
        last["output"]["goals"],
    )
    assert {s["name"] for s in me["skills"]} in ({"welding"}, {"knitting"})


def test_admins_ingest_for_an_account_or_a_person_without_one(
    stack: Stack, client: ApiClient, admin_client: ApiClient, fake_ollama: FakeOllama
):
    marker = uuid.uuid4().hex
    fake_ollama.script(marker, _good_answer())
    refused = client.post(
        "/api/profiles/ingest", json={"text": "hello there", "user_email": admin_client.email}
    )
    assert refused.status_code == 403 and refused.json()["code"] == "admin_only"
    unknown = admin_client.post(
        "/api/profiles/ingest", json={"text": "hello", "user_email": "nobody@example.com"}
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "user_not_found"

    for_user = wait_job(
        admin_client, _ingest_text(admin_client, _intro(marker), user_email=client.email)["id"]
    )
    assert for_user["status"] == "succeeded", for_user
    assert [s["name"] for s in profile(client)[0]["skills"]] == ["Python", "SQL"]

    external = f"transcript-{uuid.uuid4().hex[:8]}"
    first = wait_job(admin_client, _ingest_text(admin_client, _intro(marker), external_id=external)["id"])
    again = wait_job(admin_client, _ingest_text(admin_client, _intro(marker), external_id=external)["id"])
    assert first["output"]["profile_id"] == again["output"]["profile_id"]  # upserted, not duplicated
    assert (first["output"]["revision"], again["output"]["revision"]) == (2, 3)
    assert first["output"]["user_id"] is None and first["output"]["external_id"] == external
