"""The learner model: deterministic, always available, LLM or not.

Per skill, Bayesian Knowledge Tracing (Corbett & Anderson, 1994): the probability the learner
knows the skill, updated by each observed attempt through the guess and slip probabilities, then
by the chance of learning from the attempt. Per task or exercise, an FSRS spaced-repetition card
(the `fsrs` library): a correct attempt is rated Good, a wrong one Again, and the card's due date
says when to review it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from fsrs import Card, Rating, Scheduler

CORRECT_AT = 0.6  # a score at or above this counts as a correct attempt


@dataclass(frozen=True)
class BKTParameters:
    prior: float  # P(L0): knowing the skill before any evidence
    learn: float  # P(T): learning it from one attempt
    guess: float  # P(G): right without knowing it
    slip: float  # P(S): wrong despite knowing it


def is_correct(score: float | None) -> bool:
    """A task completed without a score counts as done right; with one, at CORRECT_AT or above."""
    return score is None or score >= CORRECT_AT


def bkt_update(p_known: float, correct: bool, params: BKTParameters) -> float:
    """P(known) after one observed attempt: Bayes on the observation, then the learning transition."""
    if correct:
        seen = p_known * (1 - params.slip)
        posterior = seen / (seen + (1 - p_known) * params.guess)
    else:
        seen = p_known * params.slip
        posterior = seen / (seen + (1 - p_known) * (1 - params.guess))
    return posterior + (1 - posterior) * params.learn


@lru_cache
def _scheduler() -> Scheduler:
    # No fuzzing: the same history always gives the same due date (testable, explainable).
    return Scheduler(enable_fuzzing=False)


def new_card() -> dict[str, Any]:
    return Card().to_dict()


def review(card: dict[str, Any], correct: bool, at: datetime) -> tuple[dict[str, Any], datetime]:
    """The card after one review at `at`, and when it is next due."""
    reviewed, _log = _scheduler().review_card(
        Card.from_dict(card), Rating.Good if correct else Rating.Again, review_datetime=at
    )
    return reviewed.to_dict(), reviewed.due


def bkt_parameters() -> BKTParameters:
    """The parameters the settings give (MENTORQ_BKT_*)."""
    from core.settings import get_settings

    settings = get_settings()
    return BKTParameters(
        prior=settings.bkt_prior, learn=settings.bkt_learn, guess=settings.bkt_guess, slip=settings.bkt_slip
    )
