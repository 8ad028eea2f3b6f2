"""The publish gate's rules for the Moodle types an admin writes by hand (not only through GIFT), without
the stack: each type reads only its own fields, multiple-answer weights add up as Moodle requires,
matching pairs are whole, and a model's draft is still held to 3-6 options."""

from __future__ import annotations

import pytest

from core.exercises.rules import AuthoredDraft, ChoiceKey, ExerciseDraft, MatchPair, key_of, rule_violations


def violations(exercise_type: str, **fields) -> list[str]:
    return rule_violations(AuthoredDraft(prompt="Q?", **fields), exercise_type, retrieved=None)


def test_each_new_type_passes_with_what_it_needs():
    ticks = [ChoiceKey(weight=0.5), ChoiceKey(weight=0.5), ChoiceKey(weight=-1)]
    assert violations("multiple_answer", choices=["a", "b", "c"], choice_keys=ticks) == []
    assert (
        violations("matching", pairs=[MatchPair(item="a", choice="1"), MatchPair(item="b", choice="1")]) == []
    )
    assert violations("essay") == []
    assert violations("essay", rubric="mentions the Moon", answer="The Moon.", grader="instructor") == []
    assert violations("description", title="Read this") == []
    assert violations("multiple_choice", choices=["yes", "no"], answer="yes") == []


@pytest.mark.parametrize(
    ("exercise_type", "fields", "reason"),
    [
        ("description", {"answer": "x"}, "answer is not used by a description exercise"),
        ("description", {"rubric": "x"}, "rubric is not used by a description exercise"),
        ("description", {"general_feedback": "x"}, "general_feedback is not used by a description exercise"),
        (
            "description",
            {"choices": ["a", "b"]},
            "choices is only for multiple_choice or multiple_answer exercises",
        ),
        ("essay", {"pairs": [MatchPair(item="a", choice="1")]}, "pairs is only for matching exercises"),
        ("qa", {"answer": "x", "grader": "model"}, "grader is only for essay exercises"),
        (
            "multiple_answer",
            {"choices": ["a", "b"], "answer": "a"},
            "answer is not used by a multiple_answer",
        ),
        ("multiple_answer", {"choices": ["a", "b"]}, "choice_keys has 0 entries for 2 options"),
        (
            "multiple_answer",
            {
                "choices": ["a", "b", "c"],
                "choice_keys": [ChoiceKey(weight=0.5), ChoiceKey(weight=0.3), ChoiceKey(weight=0)],
            },
            "add up to 80%, not 100%",
        ),
        (
            "multiple_answer",
            {"choices": ["a"] * 3, "choice_keys": [ChoiceKey(weight=1 / 3)] * 3},
            "not unique",
        ),
        ("matching", {"pairs": [MatchPair(item="a", choice="1")]}, "at least 2 items to match, not 1"),
        (
            "matching",
            {"pairs": [MatchPair(item="a", choice="1"), MatchPair(item="b")]},
            "pair 2 has no match",
        ),
        (
            "matching",
            {"pairs": [MatchPair(item="a", choice="1"), MatchPair(item="A ", choice="2")]},
            "not unique",
        ),
        ("matching", {"pairs": [MatchPair(item="a", choice="1")] * 2, "answer": "1"}, "answer is not used"),
        ("multiple_choice", {"choices": ["a"], "answer": "a"}, "needs 2 to 20 options, not 1"),
    ],
)
def test_each_type_is_refused_what_it_would_ignore_or_misgrade(exercise_type: str, fields: dict, reason: str):
    assert any(reason in found for found in violations(exercise_type, **fields)), violations(
        exercise_type, **fields
    )


def test_a_models_draft_is_still_held_to_three_to_six_options():
    two = ExerciseDraft(prompt="Q?", choices=["a", "b"], answer="a")
    assert rule_violations(two, "multiple_choice", retrieved=set()) == [
        "a multiple-choice exercise needs 3 to 6 options (or just True and False), not 2"
    ]


def test_the_key_holds_the_pairs_and_the_grader_never_the_learner_view():
    draft = AuthoredDraft(
        prompt="Match", pairs=[MatchPair(item=" a ", choice=" 1 "), MatchPair(choice="2")], grader=None
    )
    assert key_of(draft)["pairs"] == [{"item": "a", "choice": "1"}, {"item": "", "choice": "2"}]
    assert key_of(AuthoredDraft(prompt="Essay", grader="instructor"))["grader"] == "instructor"
