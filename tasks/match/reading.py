"""Reading a target's requirements and a CV's skills out of the model's answers, and keeping only
what the source supports: every item's quote is checked like a profile's evidence
(tasks/profile_ingest/evidence.py), and a requirement's importance and level are read from the
target's own words (core/matches/cues.py). Pure code, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.matches import cues, scoring
from tasks.match.spec import CandidateAnswer, Dropped, RequirementsAnswer
from tasks.profile_ingest.evidence import Source

DROPPED_SHOWN = 50
LEVEL_ORDER = {None: 0, "beginner": 1, "intermediate": 2, "advanced": 3}
REQUIREMENT_FIELDS = frozenset(RequirementsAnswer.model_fields)
ITEM_FIELDS = frozenset({"skill", "level", "importance", "quote"})


def unread_fields(data: Any) -> list[str]:
    """The fields of a requirements answer that nothing reads: a model that adds a `score` or a
    `match_percent` is not believed, and the job says it saw one."""
    if not isinstance(data, dict):
        return []
    extra = {key for key in data if key not in REQUIREMENT_FIELDS}
    for item in data.get("requirements") or []:
        if isinstance(item, dict):
            extra |= {f"requirements[].{key}" for key in item if key not in ITEM_FIELDS}
    return sorted(extra)


@dataclass
class Requirements:
    """The requirements kept so far, one per skill key, in the target's order."""

    target_text: str
    min_score: float
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    dropped: list[Dropped] = field(default_factory=list)
    corrected: int = 0
    unread: set[str] = field(default_factory=set)

    def add(self, answer: RequirementsAnswer, window: str) -> None:
        source = Source(window, min_score=self.min_score)
        for item in answer.requirements:
            verdict = source.check(item.skill, item.quote, kind="requirement")
            if not verdict.ok:
                self.dropped.append(
                    Dropped(side="target", name=item.skill[:200], quote=item.quote, reason=verdict.reason)
                )
                continue
            line, heading = cues.context(self.target_text, item.quote)
            importance = cues.importance(item.importance, line, heading)
            level = cues.level(item.level, line)
            corrected = [
                name
                for name, ours, theirs in (
                    ("importance", importance, item.importance),
                    ("level", level, item.level),
                )
                if ours != theirs
            ]
            self.corrected += bool(corrected)
            key = scoring.skill_key(item.skill)
            known = self.kept.get(key)
            if known is None:
                self.kept[key] = {
                    "skill": item.skill.strip(),
                    "key": key,
                    "level": level,
                    "importance": importance,
                    "quote": item.quote.strip(),
                    "corrected": corrected,
                }
                continue
            # The same skill twice (two windows, two phrasings): the stronger reading wins.
            if importance == "must":
                known["importance"] = "must"
            if LEVEL_ORDER[level] > LEVEL_ORDER[known["level"]]:
                known["level"] = level

    def as_list(self) -> list[dict[str, Any]]:
        return list(self.kept.values())

    def summary(self) -> dict[str, Any]:
        return {
            "kept": len(self.kept),
            "dropped": [d.model_dump() for d in self.dropped[:DROPPED_SHOWN]],
            "dropped_unsupported": len(self.dropped),
            "corrected": self.corrected,
            "unread_fields": sorted(self.unread),
        }


@dataclass
class CandidateSkills:
    """A CV's skills, each kept with the quote that shows it."""

    min_score: float
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    dropped: list[Dropped] = field(default_factory=list)

    def add(self, answer: CandidateAnswer, window: str) -> None:
        source = Source(window, min_score=self.min_score)
        for skill in answer.skills:
            verdict = source.check(skill.name, skill.evidence, kind="skill")
            if not verdict.ok:
                self.dropped.append(
                    Dropped(
                        side="candidate", name=skill.name[:200], quote=skill.evidence, reason=verdict.reason
                    )
                )
                continue
            level = skill.level
            if verdict.level_cap and LEVEL_ORDER[level] > LEVEL_ORDER[verdict.level_cap]:
                level = verdict.level_cap
            key = scoring.skill_key(skill.name)
            known = self.kept.setdefault(
                key,
                {"name": skill.name.strip(), "level": level, "source": "cv", "quote": skill.evidence.strip()},
            )
            if LEVEL_ORDER[level] > LEVEL_ORDER[known["level"]]:
                known.update(level=level, quote=skill.evidence.strip())

    def as_list(self) -> list[dict[str, Any]]:
        return list(self.kept.values())
