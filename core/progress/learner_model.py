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


def bkt_likelihoods(correct: bool, params: BKTParameters) -> tuple[float, float]:
    """P(this observation | the skill is known), P(this observation | it is not)."""
    return (1 - params.slip, params.guess) if correct else (params.slip, 1 - params.guess)


def bkt_update(p_known: float, correct: bool, params: BKTParameters) -> float:
    """P(known) after one observed attempt: Bayes on the observation, then the learning transition.

    db/progress.py has PostgreSQL apply the same formula to the row it locks; the tests compare the two."""
    if_known, if_unknown = bkt_likelihoods(correct, params)
    posterior = p_known * if_known / (p_known * if_known + (1 - p_known) * if_unknown)
    return params.learn + (1 - params.learn) * posterior


@lru_cache
def _scheduler() -> Scheduler:
    # No fuzzing: the same history always gives the same due date (testable, explainable).
    return Scheduler(enable_fuzzing=False)


def new_card() -> dict[str, Any]:
    # An explicit card_id: without one, fsrs stamps the clock and then sleeps 1 ms "to prevent
    # collisions", which would block the API's event loop on every new card. Cards are keyed by
    # (user, item) here, so the id is never used.
    return Card(card_id=0).to_dict()


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
