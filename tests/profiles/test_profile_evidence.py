"""The evidence check (tasks/profile_ingest/evidence.py) on the cases the issue found and on hostile ones, the
merge of window answers with it, and, on the real stack, that an ingestion keeping nothing changes
nothing."""

from __future__ import annotations

import uuid

import pytest

from tasks.profile_ingest.evidence import Source
from tasks.profile_ingest.merge import Merged
from tasks.profile_ingest.spec import Extraction
from tests.conftest import ApiClient
from tests.profiles.support import extraction, profile, wait_job
from tests.support.fake_ollama import FakeOllama

INTRO = (
    "Hi, I'm Marta Silva and I work as a data analyst in Leeds. I am not comfortable with Python yet. "
    "I have never used R. I have been writing SQL queries for three years and I use Excel every day. "
    "I play chess on weekends. Lately I am fascinated by machine learning, and I know a bit of JavaScript. "
    "I have no experience with Java, but I use PostgreSQL daily. I want to learn Rust, I already know Go. "
    "I might take up rock climbing next year. I taught myself Git without a course."
)


def verdict(name: str, quote: str, kind: str = "skill") -> str | None:
    return Source(INTRO, min_score=90).check(name, quote, kind=kind).reason


@pytest.mark.parametrize(
    ("name", "quote", "kind", "reason"),
    [
        # What the issue found.
        ("Python", "comfortable with Python yet", "skill", "negation"),  # "not" dropped
        ("Python", "I am not comfortable with Python yet", "skill", "negation"),
        ("R", "I have never used R", "skill", "negation"),
        ("SQL", "I have been writing SQL queries for five years", "skill", "number"),
        ("Machine learning", "I play chess on weekends", "skill", "not_named"),  # the name is elsewhere
        # Hostile ones.
        ("SQL", "I have been writing SQL queries for three years", "skill", None),
        ("Excel", "three years and I use Excel every day", "skill", None),  # two clauses of one sentence
        ("Excel", "I use Excel every day", "skill", None),
        ("chess", "weekends. Lately I am fascinated", "interest", "not_in_source"),  # across two sentences
        ("Machine learning", "Lately I am fascinated by machine learning", "interest", None),
        ("ML", "Lately I am fascinated by machine learning", "interest", None),  # an alias
        ("Postgres", "but I use PostgreSQL daily", "skill", None),  # an alias
        ("JavaScript", "I know a bit of JavaScript", "skill", None),  # kept, at beginner at most
        ("JavaScript", "know a bit of JavaScript", "skill", None),
        ("JavaScript", "of JavaScript. I have no experience", "skill", "not_in_source"),
        ("Java", "I have no experience with Java", "skill", "negation"),
        ("PostgreSQL", "I have no experience with Java, but I use PostgreSQL daily", "skill", None),
        ("Rust", "I want to learn Rust", "skill", "aspiration"),  # a wish is not a skill
        ("learn Rust", "I want to learn Rust", "goal", None),
        ("Rust", "learn Rust, I already know Go", "skill", "hedge"),  # "want to" dropped
        ("Go", "I already know Go", "skill", None),  # the wish is another clause's
        ("rock climbing", "take up rock climbing next year", "interest", "hedge"),  # "might" dropped
        ("rock climbing", "I might take up rock climbing next year", "interest", None),
        ("Git", "I taught myself Git without a course", "skill", None),  # "without" is about the course
        ("data analysis", "I work as a data analyst in Leeds", "skill", None),
        ("Kubernetes", "I work as a data analyst in Leeds", "skill", "not_named"),
        ("Python", "Python yet", "skill", "too_short"),
        ("Python", "", "skill", "too_short"),
    ],
)
def test_a_quote_must_say_what_the_item_claims(name: str, quote: str, kind: str, reason: str | None):
    assert verdict(name, quote, kind) == reason


def test_a_hedged_skill_is_kept_at_beginner_level_at_most():
    source = Source(INTRO, min_score=90)
    assert source.check("JavaScript", "I know a bit of JavaScript", kind="skill").level_cap == "beginner"
    assert source.check("SQL", "I use Excel every day", kind="skill").reason == "not_named"
    assert source.check("Excel", "I use Excel every day", kind="skill").level_cap is None


def test_a_quote_longer_than_its_sentence_must_be_that_sentence():
    source = Source("I use SQL. I never touch Python.", min_score=90)
    # partial matching would find "I use SQL" inside this quote: the quote claims more than the source.
    assert (
        source.check("SQL", "I use SQL and Python every day at work", kind="skill").reason == "not_in_source"
    )
    assert source.check("SQL", "I use SQL.", kind="skill").ok
    assert source.check("Python", "I never touch Python", kind="skill").reason == "negation"


def test_typographic_text_and_a_quote_that_adds_a_negation():
    source = Source(
        "I don’t know Java. I use SQL every single day at work for reports and dashboards.", min_score=90
    )
    assert source.check("Java", "I don't know Java", kind="skill").reason == "negation"
    quote = "I don't use SQL every single day at work for reports and dashboards"
    assert source.check("SQL", quote, kind="skill").reason == "negation"


@pytest.mark.parametrize(
    ("name", "mentioned"),
    [
        ("Marta Silva", True),
        ("Marta", True),
        ("marta silva", True),
        ("Al", False),  # a substring of "analyst"
        ("Analyst", False),  # a word, not written as a name
        ("Silva Marta", False),
        ("Leeds", True),  # a name the source writes as one; whether it is the person's is the model's call
        ("M", False),
    ],
)
def test_display_names_match_whole_words_written_as_a_name(name: str, mentioned: bool):
    assert Source(INTRO, min_score=90).mentions(name) is mentioned


def test_a_name_in_a_lower_case_source_and_one_with_accents():
    assert Source("hi, i'm josé and i teach chemistry", min_score=90).mentions("José")
    assert Source("Hi, I'm José and I teach chemistry", min_score=90).mentions("Jose")
    assert not Source("hi, i'm josé and i teach chemistry", min_score=90).mentions("Jo")


BIO_SOURCE = (
    "I have been writing Python for data analysis for three years and I use SQL every day at work. "
    "My goal is to become a machine learning engineer by next summer. I am not a fan of spreadsheets."
)


@pytest.mark.parametrize(
    ("bio", "reason"),
    [
        ("Marta analyses data with Python and SQL and wants to become a machine learning engineer.", None),
        ("She has written Python for data analysis for three years.", None),
        ("She has written Python for data analysis for five years.", "number"),
        ("She is a machine learning engineer who uses Python and SQL.", "hedge"),  # a goal stated as done
        ("She is a big fan of spreadsheets.", "negation"),
        ("She uses Python and SQL at Google.", "entity"),
        ("A seasoned cloud architect with deep DevOps expertise and Python.", "entity"),
        (
            "A seasoned cloud architect with deep expertise in distributed consensus and Python.",
            "unsupported_words",
        ),
    ],
)
def test_a_bio_is_kept_only_when_the_source_supports_it(bio: str, reason: str | None):
    source = Source(BIO_SOURCE, min_score=90)
    evidence = "I have been writing Python for data analysis for three years"
    assert source.check_bio(bio, evidence, known=["Marta Silva"]).reason == reason


def test_a_bio_with_real_evidence_is_not_kept_for_it():
    source = Source(BIO_SOURCE, min_score=90)
    # The evidence is real; the bio says something else: the case.
    bio = "Marta is a senior Kubernetes administrator with ten years of experience."
    assert not source.check_bio(bio, "I use SQL every day at work", known=["Marta Silva"]).ok
    assert (
        source.check_bio("She uses SQL every day.", "I made this up entirely", known=[]).reason
        == "not_in_source"
    )


def test_the_merge_keeps_supported_items_caps_hedged_levels_and_says_why_it_drops():
    merged = Merged()
    merged.add(
        Extraction.model_validate(
            {
                "display_name": "Al",
                "bio": "Marta is a machine learning engineer at Google.",
                "bio_evidence": "Lately I am fascinated by machine learning",
                "skills": [
                    {"name": "JavaScript", "level": "advanced", "evidence": "I know a bit of JavaScript"},
                    {"name": "Python", "level": "advanced", "evidence": "comfortable with Python yet"},
                    {"name": "R", "evidence": "I have never used R"},
                    {"name": "Machine learning", "evidence": "I play chess on weekends"},
                    {"name": "Rust", "evidence": "I want to learn Rust"},
                ],
                "goals": [{"name": "learn Rust", "evidence": "I want to learn Rust"}],
                "interests": [
                    {"name": "machine learning", "evidence": "Lately I am fascinated by machine learning"}
                ],
            }
        ),
        Source(INTRO, min_score=90),
    )
    fields = merged.fields("marta")
    assert fields["skills"] == [{"name": "JavaScript", "level": "beginner"}]
    assert fields["goals"] == ["learn Rust"] and fields["interests"] == ["machine learning"]
    assert fields["bio"] is None and "display_name" not in fields
    assert {(d.field, d.name, d.reason) for d in merged.dropped} == {
        ("display_name", "Al", "not_in_source"),
        ("skills", "Python", "negation"),
        ("skills", "R", "negation"),
        ("skills", "Machine learning", "not_named"),
        ("skills", "Rust", "aspiration"),
        ("bio", "Marta is a machine learning engineer at Google.", "entity"),
    }
    merged.fields("marta")  # asked again: the bio is not dropped twice
    assert sum(d.field == "bio" for d in merged.dropped) == 1


def test_a_bio_may_use_the_kept_items_of_other_windows():
    merged = Merged()
    merged.add(
        Extraction.model_validate(
            {"skills": [{"name": "chemistry", "evidence": "I teach chemistry at a secondary school"}]}
        ),
        Source("I teach chemistry at a secondary school.", min_score=90),
    )
    merged.add(
        Extraction.model_validate(
            {
                "bio": "A chemistry teacher who plays the cello in an amateur orchestra.",
                "bio_evidence": "I also play the cello in an amateur orchestra",
                "skills": [{"name": "cello", "evidence": "play the cello in an amateur orchestra"}],
                "goals": [{"name": "learn music theory", "evidence": "want to learn music theory"}],
            }
        ),
        Source("I also play the cello in an amateur orchestra and want to learn music theory.", min_score=90),
    )
    fields = merged.fields("ana")
    assert fields["bio"] == "A chemistry teacher who plays the cello in an amateur orchestra."
    assert [s["name"] for s in fields["skills"]] == ["chemistry", "cello"]
    assert fields["goals"] == ["learn music theory"] and merged.dropped == []


# --- on the real stack ----------------------------------------------------------------------


def test_an_ingestion_that_keeps_nothing_changes_nothing(client: ApiClient, fake_ollama: FakeOllama):
    first = uuid.uuid4().hex
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
    response = client.post(
        "/api/profiles/ingest", json={"text": f"{first} I teach chemistry at a secondary school."}
    )
    assert response.status_code == 202, response.text
    assert wait_job(client, response.json()["id"])["status"] == "succeeded"
    before, etag = profile(client)
    assert [s["name"] for s in before["skills"]] == ["chemistry"] and before["wiki_content"]

    second = uuid.uuid4().hex
    fake_ollama.script(
        second,
        extraction(
            display_name="Al",
            bio="An expert in everything.",
            bio_evidence="I am not comfortable with Python yet",
            skills=[
                {"name": "Python", "level": "advanced", "evidence": "comfortable with Python yet"},
                {"name": "R", "evidence": "I have never used R"},
            ],
            goals=[{"name": "become a pilot", "evidence": "I am not comfortable with Python yet"}],
        ),
    )
    text = f"{second} I am an analyst. I am not comfortable with Python yet. I have never used R."
    response = client.post("/api/profiles/ingest", json={"text": text})
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["id"])
    assert job["status"] == "succeeded", job
    output = job["output"]
    assert output["saved"] is False and output["not_saved"]["code"] == "nothing_kept"
    assert output["kept"] == 0 and output["revision"] == before["revision"]
    assert {(d["name"], d["reason"]) for d in output["dropped"]} >= {
        ("Al", "not_in_source"),
        ("Python", "negation"),
        ("R", "negation"),
        ("become a pilot", "not_named"),
    }
    after, etag_after = profile(client)
    assert (after, etag_after) == (before, etag)
    revisions = client.get("/api/profiles/me/revisions").json()["items"]
    assert revisions[0]["revision"] == before["revision"]
