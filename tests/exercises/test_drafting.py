"""The schema a generated draft is decoded under is as strict as the publish gate: what it admits,
the gate's counting rules admit; and a filled answer becomes the draft the gate reads."""

from __future__ import annotations

import jsonschema
import pytest

from core.exercises.rules import ExerciseDraft, rule_violations
from tasks.exercise.drafting import draft_schema, read_draft, starter_from

MULTIPLE_CHOICE = {
    "prompt": "What makes a memory last longer?",
    "answer": "Spaced reviews",
    "distractors": ["Cramming", "Rereading once", "Highlighting"],
    "rubric": "Spacing interrupts forgetting.",
    "hints": ["Think about timing."],
    "skills": ["memory"],
    "cited_chunk_ids": [12],
}
CODING = {
    "prompt": "Write count_a(text) returning how many times 'a' appears.",
    "solution_code": "def count_a(text: str) -> int:\n    return text.count('a')\n",
    "examples": [{"call": "count_a('banana')", "expected": "3"}, {"call": "count_a('')", "expected": "0"}],
    "hidden_example": {"call": "count_a('aaaa')", "expected": "4"},
    "hints": ["str has a method for this."],
    "skills": ["python strings"],
    "cited_chunk_ids": [],
}


def valid(value: dict, exercise_type: str, ids: list[int]) -> bool:
    return jsonschema.Draft202012Validator(draft_schema(exercise_type, passage_ids=ids)).is_valid(value)


def test_a_multiple_choice_fill_is_four_options_with_its_answer_among_them():
    assert valid(MULTIPLE_CHOICE, "multiple_choice", [12, 40])
    draft = read_draft(MULTIPLE_CHOICE)
    assert draft.choices == ["Spaced reviews", "Cramming", "Rereading once", "Highlighting"]
    assert rule_violations(draft, "multiple_choice", retrieved={12, 40}) == []


@pytest.mark.parametrize(
    "change",
    [
        {"distractors": []},  # 1 option: the loose schema let the model write 0
        {"distractors": ["Cramming", "Rereading once"]},
        {"answer": ""},
        {"prompt": ""},
        {"hints": []},
        {"cited_chunk_ids": [99]},  # a passage that was not shown
        {"choices": ["a", "b"]},  # another shape's field
    ],
)
def test_the_schema_refuses_what_the_gate_would(change):
    assert not valid(MULTIPLE_CHOICE | change, "multiple_choice", [12, 40])


def test_a_coding_fill_has_named_visible_and_hidden_tests_and_a_starter_that_is_the_signature():
    assert valid(CODING, "coding", [])
    draft = read_draft(CODING)
    assert [(t.name, t.hidden) for t in draft.tests] == [
        ("example 1", False),
        ("example 2", False),
        ("hidden example", True),
    ]
    assert draft.starter_code == "def count_a(text: str) -> int:\n    pass\n"
    assert rule_violations(draft, "coding", retrieved=set()) == []
    for missing in ("solution_code", "examples", "hidden_example"):
        assert not valid({k: v for k, v in CODING.items() if k != missing}, "coding", [])
    assert not valid(CODING | {"examples": CODING["examples"][:1]}, "coding", [])
    assert not valid(CODING | {"cited_chunk_ids": [1]}, "coding", [])  # nothing shown, nothing cited


def test_an_example_that_is_not_a_call_of_a_literal_is_an_error_to_quote_back_to_the_model():
    with pytest.raises(ValueError, match="literal"):
        read_draft(CODING | {"examples": [{"call": "count_a('b')", "expected": "zero"}] * 2})


def test_a_draft_in_the_gates_own_shape_is_read_as_it_is():
    """A provider that ignores the schema (or a scripted test draft) is judged by the gate alone."""
    own = {"prompt": "What absorbs light?", "choices": ["Water", "Salt"], "answer": "Chlorophyll"}
    draft = read_draft(own)
    assert draft == ExerciseDraft.model_validate(own)
    assert "the correct answer is not one of the options" in rule_violations(
        draft, "multiple_choice", retrieved=set()
    )


def test_the_starter_is_made_from_the_first_function_only():
    assert starter_from("import re\n\n@cache\ndef f(a, *b, c=1):\n    return a\n\ndef g(): pass\n") == (
        "def f(a, *b, c=1):\n    pass\n"
    )
    assert starter_from("x = 1\n") is None and starter_from("def (:\n") is None


def test_a_qa_fill_needs_an_answer_and_a_rubric():
    qa = {k: MULTIPLE_CHOICE[k] for k in ("prompt", "answer", "rubric", "hints", "skills", "cited_chunk_ids")}
    assert valid(qa, "qa", [12]) and rule_violations(read_draft(qa), "qa", retrieved={12}) == []
    assert not valid(qa | {"answer": ""}, "qa", [12]) and not valid({**qa, "rubric": None}, "qa", [12])
