"""A match's score, computed in code, never taken from a model.

Each requirement earns a credit from what the candidate shows: 1 when met (a skill at the required
level or above, or a BKT mastery at the threshold), 0.5 when partly met (the skill below the level,
or a mastery half way), 0 otherwise. The score is the weighted mean of the credits, as a percentage:
a must-have weighs 3, a nice-to-have 1. Every figure that went into it is kept in the breakdown, so
a report can show how the score was computed and a progress event can recompute it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core import claim_text, claim_words
from core.profiles.fields import normalize_name

WEIGHTS = {"must": 3, "nice": 1}
LEVEL_RANK = {None: 1, "beginner": 1, "intermediate": 2, "advanced": 3}
CREDIT = {"met": 1.0, "partial": 0.5, "gap": 0.0}
# Below the threshold but at least this likely known: partly met.
PARTIAL_MASTERY = 0.5
# Words that say what kind of thing a skill is, not which: "Python programming" is "Python".
GENERIC_WORDS = frozenset(
    "programming development developing engineering skill skills experience knowledge language languages "
    "proficiency expertise ability understanding familiarity working basic basics advanced solid strong "
    "good deep practical hands-on use using framework tools tool".split()
)


def skill_key(name: str) -> str:
    """The key two spellings of one skill share: its content words' stems, sorted, with aliases
    folded to one spelling ("Postgres", "PostgreSQL"; "ML", "machine learning")."""
    folded = normalize_name(name)
    forms = claim_text.alias_forms(folded)
    canonical = min(forms, key=lambda form: (len(form.split()) == 1 and len(form) <= 4, form))
    tokens = claim_text.tokenize(canonical)
    stems = sorted(
        {
            claim_text.stem(token.lower)
            for token in tokens
            if token.lower not in claim_words.STOPWORDS and token.lower not in GENERIC_WORDS
        }
    )
    return " ".join(stems) or folded


@dataclass(frozen=True)
class Credit:
    status: str  # met, partial or gap
    credit: float
    because: str  # met_by_level, met_by_mastery, below_level, mastery_partial, missing
    candidate_skill: dict[str, Any] | None
    mastery: dict[str, Any] | None


def credit_for(
    requirement: Mapping[str, Any],
    candidate: Mapping[str, Mapping[str, Any]],
    mastery: Mapping[str, Mapping[str, Any]],
    *,
    threshold: float,
) -> Credit:
    """What the candidate's skills (by key) and mastery (by key) earn for one requirement."""
    key = requirement["key"]
    skill = candidate.get(key)
    known = mastery.get(key)
    p_known = known["p_known"] if known else 0.0
    needed = LEVEL_RANK[requirement.get("level")]
    if skill is not None and LEVEL_RANK[skill.get("level")] >= needed:
        return Credit("met", 1.0, "met_by_level", dict(skill), _mastery(known))
    if p_known >= threshold:
        return Credit("met", 1.0, "met_by_mastery", dict(skill) if skill else None, _mastery(known))
    if skill is not None:
        return Credit("partial", 0.5, "below_level", dict(skill), _mastery(known))
    if p_known >= PARTIAL_MASTERY:
        return Credit("partial", 0.5, "mastery_partial", None, _mastery(known))
    return Credit("gap", 0.0, "missing", None, _mastery(known))


def _mastery(known: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if known is None:
        return None
    return {"skill": known["name"], "p_known": round(float(known["p_known"]), 4), "events": known["evidence"]}


def breakdown(
    requirements: Iterable[Mapping[str, Any]],
    candidate: Iterable[Mapping[str, Any]],
    mastery: Iterable[Mapping[str, Any]],
    *,
    threshold: float,
) -> list[dict[str, Any]]:
    """One entry per requirement: the requirement, its weight, the credit earned and the evidence."""
    by_key = {skill_key(skill["name"]): skill for skill in candidate}
    known = {skill_key(row["name"]): row for row in mastery}
    entries = []
    for requirement in requirements:
        earned = credit_for(requirement, by_key, known, threshold=threshold)
        entries.append(
            {
                **requirement,
                "weight": WEIGHTS[requirement["importance"]],
                "status": earned.status,
                "credit": earned.credit,
                "because": earned.because,
                "candidate_skill": earned.candidate_skill,
                "mastery": earned.mastery,
            }
        )
    return entries


def score(entries: Iterable[Mapping[str, Any]]) -> float:
    """The weighted mean credit as a percentage, one decimal."""
    entries = list(entries)
    total = sum(entry["weight"] for entry in entries)
    if not total:
        return 0.0
    return round(100 * sum(entry["weight"] * entry["credit"] for entry in entries) / total, 1)


def rescored(
    entries: list[Mapping[str, Any]], mastery: Iterable[Mapping[str, Any]], *, threshold: float
) -> list[dict[str, Any]]:
    """The breakdown again with today's mastery; the candidate's skills are the match's own."""
    candidate = [entry["candidate_skill"] for entry in entries if entry.get("candidate_skill")]
    requirements = [
        {key: entry[key] for key in ("skill", "key", "level", "importance", "quote", "corrected")}
        for entry in entries
    ]
    return breakdown(requirements, candidate, mastery, threshold=threshold)
