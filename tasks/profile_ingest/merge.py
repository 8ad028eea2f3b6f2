"""Merging the windows' answers of a profile ingestion: the evidence check, unions by normalized
name, the longest supported bio; and the wiki written from what survived. Pure code, no I/O."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from core.profiles.fields import normalize_name
from tasks.profile_ingest.evidence import Source
from tasks.profile_ingest.spec import DroppedItem, Extraction

LEVEL_ORDER = {"beginner": 0, "intermediate": 1, "advanced": 2}
DROPPED_SHOWN = 50


@dataclass
class Merged:
    """What the windows' answers add up to, after the evidence check."""

    display_name: str | None = None
    # (bio, its quote, the window it came from): a bio is checked once the kept items are known.
    bio_candidates: list[tuple[str, str | None, Source]] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    skills: dict[str, dict] = field(default_factory=dict)
    interests: dict[str, str] = field(default_factory=dict)
    goals: dict[str, str] = field(default_factory=dict)
    dropped: list[DroppedItem] = field(default_factory=list)

    def add(self, answer: Extraction, source: Source) -> None:
        """Union by normalized name, keeping each item's first spelling; drop what the source lacks."""
        if answer.display_name:
            if source.mentions(answer.display_name):
                self.display_name = self.display_name or answer.display_name.strip()
            else:
                self._drop("display_name", answer.display_name, None, "not_in_source")
        if answer.bio:
            self.bio_candidates.append((answer.bio.strip(), answer.bio_evidence, source))
        if answer.level:
            self.levels.append(answer.level)
        for skill in answer.skills:
            verdict = source.check(skill.name, skill.evidence, kind="skill")
            if not verdict.ok:
                self._drop("skills", skill.name, skill.evidence, verdict.reason)
                continue
            level = _capped(skill.level, verdict.level_cap)
            kept = self.skills.setdefault(
                normalize_name(skill.name), {"name": skill.name.strip(), "level": None}
            )
            if level and LEVEL_ORDER[level] > LEVEL_ORDER.get(kept["level"] or "", -1):
                kept["level"] = level
        for name, kind, items, target in (
            ("interests", "interest", answer.interests, self.interests),
            ("goals", "goal", answer.goals, self.goals),
        ):
            for item in items:
                verdict = source.check(item.name, item.evidence, kind=kind)
                if verdict.ok:
                    target.setdefault(normalize_name(item.name), item.name.strip())
                else:
                    self._drop(name, item.name, item.evidence, verdict.reason)

    def _drop(self, field_name: str, name: str, evidence: str | None, reason: str | None) -> None:
        self.dropped.append(
            DroppedItem(field=field_name, name=name[:200], evidence=(evidence or None), reason=reason)
        )

    @property
    def kept(self) -> int:
        return len(self.skills) + len(self.interests) + len(self.goals)

    def level(self) -> str | None:
        """The level most windows gave; on a tie, the higher."""
        if not self.levels:
            return None
        return max(set(self.levels), key=lambda level: (self.levels.count(level), LEVEL_ORDER[level]))

    def bio(self) -> str | None:
        """The longest bio whose every sentence its window supports, the kept items and the display
        name counting as supported words (the others are dropped, with the reason, once)."""
        known = [
            *(skill["name"] for skill in self.skills.values()),
            *self.interests.values(),
            *self.goals.values(),
            *([self.display_name] if self.display_name else []),
        ]
        chosen = None
        for text, evidence, source in sorted(self.bio_candidates, key=lambda candidate: -len(candidate[0])):
            verdict = source.check_bio(text, evidence, known=known)
            if verdict.ok:
                chosen = chosen or text
            else:
                self._drop("bio", text, evidence, verdict.reason)
        self.bio_candidates = [c for c in self.bio_candidates if c[0] == chosen]
        return chosen

    def fields(self, username: str) -> dict:
        """The profile fields this ingestion sets: what was kept, the chosen bio and the wiki."""
        values = {
            "display_name": self.display_name,
            "bio": self.bio(),
            "skills": list(self.skills.values()),
            "interests": list(self.interests.values()),
            "goals": list(self.goals.values()),
            "level": self.level(),
        }
        fields = {**values, "wiki_content": wiki(username, values)}
        if not self.display_name:
            del fields["display_name"]  # keep the name the learner gave; a source need not repeat it
        return fields


def _capped(level: str | None, cap: str | None) -> str | None:
    """A skill's level, no higher than what the source's words allow ("a bit of Python": beginner)."""
    if level and cap and LEVEL_ORDER[level] > LEVEL_ORDER[cap]:
        return cap
    return level


def wiki(username: str, values: dict) -> str:
    """The profile as Markdown for retrieval, written by code from the checked fields only (the
    model's own prose would be one more thing to trust)."""
    lines = [f"# {values['display_name'] or username}", ""]
    if values["bio"]:
        lines += [values["bio"], ""]
    if values["level"]:
        lines += [f"Overall level: {values['level']}.", ""]
    sections = (
        ("Skills", [s["name"] + (f" ({s['level']})" if s["level"] else "") for s in values["skills"]]),
        ("Interests", values["interests"]),
        ("Goals", values["goals"]),
    )
    for title, items in sections:
        if items:
            lines += [f"## {title}", "", *(f"- {item}" for item in items), ""]
    return "\n".join(lines).strip() + "\n"


def windows(text: str, *, words: int) -> Iterator[str]:
    """Consecutive pieces of about `words` words, overlapping a little so a quote split by a window
    boundary is whole in one of them."""
    tokens = text.split()
    overlap = min(50, words // 10)
    start = 0
    while start < len(tokens):
        yield " ".join(tokens[start : start + words])
        if start + words >= len(tokens):
            return
        start += words - overlap
