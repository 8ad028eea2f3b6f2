"""What code grades alone (numeric in exact decimal, short answers as Moodle matches them, weighted
options, ticked options added up, matching pairs), what a learner's answer must be before it is
graded, and the order each learner sees the options in, without the stack."""

from __future__ import annotations

import json
import uuid
from itertools import permutations

import pytest

from core.exercises.exact_grading import exact_grade, numeric_score, short_answer_score
from core.exercises.gift import parse
from core.exercises.learner_answers import AnswerRefused, stored_answer
from core.exercises.rules import (
    AuthoredDraft,
    key_of,
    learner_order,
    match_choices,
    match_items,
    parse_number,
    word_for_word,
)


def key_from_gift(text: str) -> tuple[str, dict]:
    (question,), skipped = parse(text)
    assert not skipped
    return question.exercise_type, key_of(question.draft)


@pytest.mark.parametrize("text", ["3", "-40", "+7", "3.14", ".5", "5.", "6.02e23", "1E-5", "  12  "])
def test_numbers_a_learner_may_write(text: str):
    assert parse_number(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1,5",
        "1 000",
        "1_000",
        "0x10",
        "inf",
        "NaN",
        "Infinity",
        "1e100",
        "٣",
        "３",
        "−5",
        "5%",
        "3/4",
        "1e",
    ],
)
def test_what_is_not_a_number_is_refused_not_guessed(text: str):
    assert parse_number(text) is None


def test_numeric_tolerance_is_exact_where_floats_are_not():
    _, key = key_from_gift("Pick a number near 3.1 {#3.1:0.1}")
    assert abs(3.2 - 3.1) > 0.1  # what a float comparison would decide: wrong
    assert numeric_score("3.2", key)[0] == 1.0 and numeric_score("3.0", key)[0] == 1.0
    assert numeric_score("3.2000000000000000000000001", key)[0] == 0.0
    _, ranged = key_from_gift("Pi to three places? {#3.141..3.142}")
    assert [numeric_score(x, ranged)[0] for x in ("3.141", "3.1415", "3.142", "3.1409", "3.1421")] == [
        1,
        1,
        1,
        0,
        0,
    ]


def test_several_numeric_answers_give_the_best_weight_and_their_feedback():
    _, key = key_from_gift(
        "When was Grant born? {#\n=1822:0 #Exactly.\n=%50%1822:2 #Close.\n~#Read chapter 2.\n}"
    )
    assert numeric_score("1822", key) == (1.0, "Exactly.")
    assert numeric_score("1820", key) == (0.5, "Close.")
    assert numeric_score("1830", key) == (0.0, "Read chapter 2.")
    assert numeric_score("eighteen", key) == (0.0, "That is not a number.")
    _, huge = key_from_gift("Avogadro? {#6.022e23:1e21}")
    assert numeric_score("6.02e23", huge)[0] == 1.0 and numeric_score("6.04e23", huge)[0] == 0.0


def test_short_answers_match_as_moodle_matches_them():
    _, key = key_from_gift("Capital of France? {=Paris #Oui! =%50%Paris, France}")
    assert short_answer_score("  PARIS ", key) == (1.0, "Oui!")
    assert short_answer_score("paris,   france", key)[0] == 0.5
    assert short_answer_score("Lyon", key) == (0.0, None)
    _, wildcard = key_from_gift("Cells divide by? {=mitos*}")
    assert [short_answer_score(x, wildcard)[0] for x in ("mitosis", "Mitos", "meiosis")] == [1, 1, 0]
    _, symbols = key_from_gift("Name the language. {=C++ =a\\*b}")
    assert [short_answer_score(x, symbols)[0] for x in ("c++", "c", "a*b", "axb")] == [1, 0, 1, 0]


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("*", "anything at all", True),
        ("ab*ba", "aba", False),  # the two ends may not overlap
        ("ab*ba", "abba", True),
        ("*a*b*c*", "xxaxxbxxcxx", True),
        ("*a*b*c*", "xxcxxbxxaxx", False),
        ("a**b", "a-b", True),
        ("a\\*b", "a*b", True),
        ("a\\*b", "a-b", False),
        ("Straße", "STRASSE", True),
    ],
)
def test_a_star_stands_for_any_text(pattern: str, text: str, matches: bool):
    key = {"accepted_answers": [{"text": pattern, "weight": 1.0, "feedback": None}]}
    assert short_answer_score(text, key)[0] == float(matches)


def test_a_crafted_answer_cannot_make_matching_slow():
    key = {"accepted_answers": [{"text": "*a" * 40 + "*b", "weight": 1.0, "feedback": None}]}
    # A backtracking regex takes ages on this (about 64 KB, the most an answer may hold); this is linear.
    assert short_answer_score("a" * 64_000, key)[0] == 0.0


def test_weighted_options_and_their_feedback():
    kind, key = key_from_gift(
        "Jesus was from {~Jerusalem#No. ~%50%Galilee#Be more specific. =Nazareth#Yes. ~%-25%Rome}."
    )
    assert exact_grade(kind, "nazareth", key) == (1.0, "Correct. Yes.")
    assert exact_grade(kind, "Galilee", key) == (0.5, "Partly right: 50% of the marks. Be more specific.")
    assert exact_grade(kind, "Rome", key).score == -0.25  # the grade job records it as 0
    kind, true_false = key_from_gift("The Sun is a star. {TRUE#It is one.#Yes.####A G-type star.}")
    assert exact_grade(kind, "True", true_false) == (1.0, "Correct. Yes. A G-type star.")
    # General feedback usually explains the answer: not given to a learner who has not found it.
    assert exact_grade(kind, "False", true_false) == (0.0, "Not this one. It is one.")


def test_only_a_short_answer_without_accepted_answers_goes_to_the_model():
    rubric_only = key_of(AuthoredDraft(prompt="Explain osmosis.", answer="Water moves...", rubric="membrane"))
    assert exact_grade("qa", "anything", rubric_only) is None
    assert exact_grade("coding", "print(1)", rubric_only) is None
    plain_choice = key_of(AuthoredDraft(prompt="?", choices=["a", "b", "c"], answer="b"))
    assert exact_grade("multiple_choice", "B", plain_choice) == (1.0, "Correct.")


def ticks(*options: str) -> str:
    return json.dumps(list(options))


def test_ticked_options_add_up_between_nothing_and_full_marks():
    kind, key = key_from_gift(
        "Entombed in Grant's tomb? "
        "{~%-50%No one #Someone is. ~%50%Grant ~%50%Grant's wife ~%-50%Grant's father}"
    )
    assert kind == "multiple_answer"
    assert exact_grade(kind, ticks("Grant", "Grant's wife"), key) == (1.0, "Correct.")
    assert exact_grade(kind, ticks("grant"), key) == (0.5, "Partly right: 50% of the marks.")
    # A wrong tick takes back credit, as in Moodle; ticking everything earns nothing, never less.
    assert exact_grade(kind, ticks("Grant", "No one"), key) == (0.0, "Not this one. Someone is.")
    assert exact_grade(kind, ticks("No one", "Grant", "Grant's wife", "Grant's father"), key).score == 0.0
    assert exact_grade(kind, ticks("No one", "Grant's father"), key).score == 0.0
    # Ticking one option twice counts it once; what is not an option counts for nothing.
    assert exact_grade(kind, ticks("Grant", "Grant", "GRANT"), key).score == 0.5
    assert exact_grade(kind, ticks("Lee"), key).score == 0.0
    assert exact_grade(kind, "not json", key).score == 0.0
    _, thirds = key_from_gift("Continents? {~%33.33333%Africa ~%33.33333%Asia ~%33.33333%Europe ~%-100%Peru}")
    assert exact_grade("multiple_answer", ticks("Africa", "Asia", "Europe"), thirds).score == pytest.approx(
        1.0
    )


def test_matching_gives_credit_per_pair():
    kind, key = key_from_gift(
        "Capitals {=Canada -> Ottawa =Italy -> Rome =Japan -> Tokyo = -> Sydney ####Well done.}"
    )
    assert kind == "matching"
    right = {"Canada": "Ottawa", "Italy": "Rome", "Japan": "Tokyo"}
    assert exact_grade(kind, json.dumps(right), key) == (1.0, "Correct. 3 of 3 matched right. Well done.")
    two = json.dumps({**right, "Japan": "Sydney"})
    # General feedback comes with a score that counts as correct (CORRECT_AT), as for every type.
    assert exact_grade(kind, two, key) == (
        2 / 3,
        "Partly right: 67% of the marks. 2 of 3 matched right. Well done.",
    )
    one = json.dumps({**right, "Japan": "Sydney", "Italy": "Tokyo"})
    assert exact_grade(kind, one, key) == (1 / 3, "Partly right: 33% of the marks. 1 of 3 matched right.")
    assert exact_grade(kind, json.dumps({"canada": " ottawa "}), key).score == 1 / 3
    assert exact_grade(kind, json.dumps({"Sydney": "Sydney"}), key).score == 0.0  # a distractor is no item
    assert exact_grade(kind, "[]", key).score == 0.0


def test_a_learners_answer_is_checked_before_it_is_graded():
    (ticked,), _ = parse("Tick {~%50%a ~%50%b ~%-100%c}")
    (pairs,), _ = parse("Match {=x -> 1 =y -> 2 = -> 3}")
    choices, items = match_choices(pairs.draft), match_items(pairs.draft)
    assert (choices, items) == (["1", "2", "3"], ["x", "y"])
    # Stored in one form: the exercise's own spelling and order.
    assert (
        stored_answer("multiple_answer", ["B ", "a"], choices=ticked.draft.choices, items=None)
        == '["a", "b"]'
    )
    assert (
        stored_answer("matching", {"Y": "3", "x": "1"}, choices=choices, items=items)
        == '{"x": "1", "y": "3"}'
    )
    assert stored_answer("essay", "My essay.", choices=None, items=None) == "My essay."
    refused = [
        ("description", "anything", "not_answerable"),
        ("multiple_answer", "a", "validation_error"),
        ("multiple_answer", [], "validation_error"),
        ("multiple_answer", ["a", "d"], "invalid_choice"),
        ("multiple_answer", ["a", "A"], "invalid_choice"),
        ("matching", ["1", "2"], "validation_error"),
        ("matching", {"x": "1"}, "validation_error"),  # every item needs its match
        ("matching", {"x": "1", "y": "4"}, "invalid_choice"),
        ("matching", {"x": "1", "z": "2"}, "invalid_choice"),
        ("matching", {"x": "1", "X": "2", "y": "2"}, "invalid_choice"),
        ("essay", ["a"], "validation_error"),
        ("multiple_choice", "d", "invalid_choice"),
        ("numeric", "seven", "validation_error"),
    ]
    shown = {"multiple_answer": (ticked.draft.choices, None), "matching": (choices, items)}
    for exercise_type, answer, code in refused:
        shown_choices, shown_items = shown.get(exercise_type, (["a", "b", "c"], None))
        with pytest.raises(AnswerRefused) as caught:
            stored_answer(exercise_type, answer, choices=shown_choices, items=shown_items)
        assert caught.value.code == code, (exercise_type, answer)


def test_each_learner_sees_the_options_in_an_order_of_their_own():
    choices = ["the Seine", "the Thames", "the Danube", "the Rhine"]
    exercise = uuid.uuid4()
    orders = {
        tuple(learner_order(choices, exercise_id=exercise, learner_id=uuid.UUID(int=n), secret="s"))
        for n in range(60)
    }
    assert all(sorted(order) == sorted(choices) for order in orders)
    assert len(orders) > 12 and len(orders) <= len(list(permutations(choices)))
    again = learner_order(choices, exercise_id=exercise, learner_id=uuid.UUID(int=7), secret="s")
    assert again == learner_order(choices, exercise_id=exercise, learner_id=uuid.UUID(int=7), secret="s")
    # Without the server's secret the order cannot be computed (nor the author's order recovered).
    other_secret = [
        learner_order(choices, exercise_id=exercise, learner_id=uuid.UUID(int=n), secret="t")
        for n in range(20)
    ]
    assert other_secret != [
        learner_order(choices, exercise_id=exercise, learner_id=uuid.UUID(int=n), secret="s")
        for n in range(20)
    ]
    assert learner_order(["True", "False"], exercise_id=exercise, learner_id=uuid.uuid4(), secret="s") == [
        "True",
        "False",
    ]


@pytest.mark.parametrize(
    ("answer", "same"),
    [
        ("the mitochondria make ATP!", True),  # case, punctuation
        ("Mitochondria   make  ATP", True),  # spacing, an article left out
        ("Mitochondria make an ATP", True),  # an article added
        ("Mitochondria do not make ATP", False),
        ("Ribosomes make ATP", False),
        ("Mitochondria make ADP", False),
        ("ATP make mitochondria", False),  # the same words in another order
        ("Mitochondria make ATP and", False),
        ("", False),
    ],
)
def test_a_short_answer_is_correct_without_the_model_only_word_for_word(answer: str, same: bool):
    assert word_for_word(answer, "The mitochondria make ATP.") is same
    assert not word_for_word(answer, "")  # no reference: never correct at once


@pytest.mark.parametrize(
    ("answer", "reference", "same"),
    [
        ("5 degrees", "-5 degrees", False),  # a sign is a word: a learner's dropped minus is wrong
        ("x > 5", "x < 5", False),
        ("50", "50%", False),
        ("1.000 people", "1,000 people", False),  # a number keeps its separators
        ("2.5 mol", "2,5 mol", False),
        ("It doesn’t dissolve.", "It doesn't dissolve", True),  # typographic and plain apostrophes
        ("(a) mitosis!", "A mitosis", True),
        ("The year was 1939.", "the year was 1939", True),
    ],
)
def test_word_for_word_keeps_signs_and_numbers_whole(answer: str, reference: str, same: bool):
    assert word_for_word(answer, reference) is same
