"""An essay's grade held to the learner's words, without the stack: a reason stands only when its quote
is in the essay as written (no negation or number changed), credit with no reason left standing is
not trusted, and nothing told to the learner names the model answer."""

from __future__ import annotations

from tasks.grade.essay import checked_grade
from tasks.grade.spec import EssayJudgement

ESSAY = (
    "Tides are mostly caused by the Moon's gravity pulling on the oceans. "
    "The Sun matters less, although it is far bigger. "
    "I do not think the wind causes tides. There are two high tides a day."
)
QUESTION = "What causes the tides?"


def judged(score: float, *reasons: tuple[str, str], feedback: str = "Good work.") -> EssayJudgement:
    return EssayJudgement.model_validate(
        {
            "score": score,
            "feedback": feedback,
            "reasons": [{"quote": quote, "comment": comment} for quote, comment in reasons],
        }
    )


def test_reasons_stand_only_on_the_learners_own_words():
    grade = checked_grade(
        judged(
            0.8,
            ("caused by the Moon's gravity", "names the main cause"),  # the essay's words
            ("tides are caused by the wind", "a misconception"),  # not written
            ("I think the wind causes tides", "a misconception"),  # drops the essay's "not"
            ("There are three high tides a day", "wrong count"),  # changes its number
            ("The Moon", "too short to show anything"),
        ),
        essay=ESSAY,
        question=QUESTION,
        reference="",
    )
    assert grade.score == 0.8
    assert [reason.quote for reason in grade.reasons] == ["caused by the Moon's gravity"]
    assert grade.dropped == 4


def test_credit_resting_on_nothing_the_learner_wrote_is_not_trusted():
    invented = judged(0.9, ("the Moon and the Sun together cause spring tides", "insightful"))
    assert checked_grade(invented, essay=ESSAY, question=QUESTION, reference="").score is None
    assert checked_grade(judged(0.7), essay=ESSAY, question=QUESTION, reference="").score is None
    # No credit needs no quote: what is missing cannot be quoted.
    assert checked_grade(judged(0.0), essay=ESSAY, question=QUESTION, reference="").score == 0.0


def test_nothing_told_to_the_learner_names_the_model_answer():
    reference = "Spring tides happen when the Sun and Moon align at new and full moon."
    grade = checked_grade(
        judged(
            0.5,
            ("Moon's gravity pulling on the oceans", "Right, and spring tides come at new and full moon."),
            feedback="Half right. The model answer says spring tides come when the Sun and Moon align.",
        ),
        essay=ESSAY,
        question=QUESTION,
        reference=reference,
    )
    assert grade.feedback == "Half right." and grade.reasons == [] and grade.dropped == 1
    assert grade.score is None  # its one reason went with the leak: nothing left to rest the credit on
