"""The match's rules without a stack: which requirements the target's words support, what their own
words say about importance and level, which candidate skill meets which, and the score's arithmetic."""

from __future__ import annotations

from core.matches import cues, scoring
from tasks.match.reading import CandidateSkills, Requirements, unread_fields
from tasks.match.spec import CandidateAnswer, RequirementsAnswer

TARGET = """Data engineer

Requirements:
- You must write SQL every day, with a working knowledge of query plans.
- Solid Python experience for our pipelines.
- No Java experience is required.

Nice to have:
- Some exposure to Docker would be great.
"""


def _read(*items: dict) -> Requirements:
    read = Requirements(target_text=TARGET, min_score=90)
    read.add(RequirementsAnswer.model_validate({"requirements": list(items)}), TARGET)
    return read


def test_a_quote_the_target_lacks_or_negates_is_dropped_with_its_reason():
    read = _read(
        {"skill": "SQL", "importance": "must", "quote": "You must write SQL every day"},
        {
            "skill": "Kubernetes",
            "importance": "must",
            "quote": "You will run Kubernetes clusters in production",
        },
        {"skill": "Java", "importance": "must", "quote": "Java experience is required"},
        {"skill": "Rust", "importance": "must", "quote": "You must write SQL every day"},
    )
    assert [r["skill"] for r in read.as_list()] == ["SQL"]
    assert {d.name: d.reason for d in read.dropped} == {
        "Kubernetes": "not_in_source",
        "Java": "negation",
        "Rust": "not_named",
    }


def test_importance_and_level_come_from_the_targets_words_over_the_models():
    read = _read(
        # The model calls Docker a must and gives no level; the target lists it under "Nice to have".
        {
            "skill": "Docker",
            "importance": "must",
            "level": "advanced",
            "quote": "Some exposure to Docker would be great",
        },
        # A must-have the model calls nice; "Solid" is an intermediate level.
        {
            "skill": "Python",
            "importance": "nice",
            "level": None,
            "quote": "Solid Python experience for our pipelines",
        },
    )
    by_skill = {r["skill"]: r for r in read.as_list()}
    assert by_skill["Docker"]["importance"] == "nice" and by_skill["Docker"]["level"] == "beginner"
    assert by_skill["Python"]["importance"] == "must" and by_skill["Python"]["level"] == "intermediate"
    assert by_skill["Docker"]["corrected"] == ["importance", "level"] and read.corrected == 2


def test_fields_the_model_adds_are_named_and_never_read():
    answer = {
        "score": 97,
        "requirements": [{"skill": "SQL", "importance": "must", "quote": "x", "weight": 10}],
    }
    assert unread_fields(answer) == ["requirements[].weight", "score"]
    assert unread_fields("not a dict") == []


def test_skill_keys_fold_spellings_aliases_and_generic_words():
    assert scoring.skill_key("Python programming") == scoring.skill_key("python")
    assert scoring.skill_key("Postgres") == scoring.skill_key("PostgreSQL")
    assert scoring.skill_key("ML") == scoring.skill_key("machine learning")
    assert scoring.skill_key("Java") != scoring.skill_key("JavaScript")
    assert scoring.skill_key("SQL") != scoring.skill_key("PostgreSQL")


def _requirement(skill: str, importance: str, level: str | None = None) -> dict:
    return {
        "skill": skill,
        "key": scoring.skill_key(skill),
        "level": level,
        "importance": importance,
        "quote": f"{skill} quoted",
        "corrected": [],
    }


def test_the_score_is_the_weighted_mean_credit_and_mastery_moves_it():
    requirements = [
        _requirement("SQL", "must", "intermediate"),
        _requirement("Python", "must", "advanced"),
        _requirement("Docker", "nice"),
    ]
    candidate = [{"name": "sql", "level": "advanced"}, {"name": "Python", "level": "beginner"}]
    entries = scoring.breakdown(requirements, candidate, [], threshold=0.8)
    assert [(e["status"], e["because"]) for e in entries] == [
        ("met", "met_by_level"),
        ("partial", "below_level"),
        ("gap", "missing"),
    ]
    assert scoring.score(entries) == round(100 * (3 * 1 + 3 * 0.5 + 1 * 0) / 7, 1) == 64.3
    # Docker practised: half way, then mastered.
    half = scoring.rescored(entries, [{"name": "Docker", "p_known": 0.6, "evidence": 2}], threshold=0.8)
    assert half[2]["status"] == "partial" and scoring.score(half) == 71.4
    mastered = scoring.rescored(entries, [{"name": "docker", "p_known": 0.85, "evidence": 4}], threshold=0.8)
    assert mastered[2]["because"] == "met_by_mastery" and scoring.score(mastered) == 78.6
    assert mastered[2]["mastery"] == {"skill": "docker", "p_known": 0.85, "events": 4}


def test_a_cv_skill_needs_its_quote_and_a_hedge_caps_its_level():
    cv = "I have written Python every day for five years. I know a bit of Go. I have never used Rust."
    read = CandidateSkills(min_score=90)
    answer = CandidateAnswer.model_validate(
        {
            "skills": [
                {
                    "name": "Python",
                    "level": "advanced",
                    "evidence": "written Python every day for five years",
                },
                {"name": "Go", "level": "advanced", "evidence": "I know a bit of Go"},
                {"name": "Rust", "level": "advanced", "evidence": "I have never used Rust"},
                {"name": "Python", "level": "advanced", "evidence": "written Python every day for ten years"},
            ]
        }
    )
    read.add(answer, cv)
    kept = {s["name"]: s for s in read.as_list()}
    assert kept["Python"]["level"] == "advanced" and kept["Python"]["quote"].startswith("written Python")
    assert kept["Go"]["level"] == "beginner"
    assert {d.name: d.reason for d in read.dropped} == {"Rust": "negation", "Python": "number"}


def test_a_heading_that_is_its_own_line_item_reads_as_its_label():
    line, heading = cues.context("Nice to have: Terraform\nMust: Git", "Terraform")
    assert cues.importance("must", line, heading) == "nice"
