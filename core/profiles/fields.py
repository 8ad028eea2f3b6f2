"""What a learner profile holds, shared by the API (edits) and the `profile_ingest` kind (extraction)."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Level = Literal["beginner", "intermediate", "advanced"]
# URL-safe: it appears in links to a learner's page.
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,38}[A-Za-z0-9]$"
MAX_WIKI_CHARS = 100_000


def normalize_name(name: str) -> str:
    """The key two spellings of one skill, interest or goal share: NFKC, casefolded, single spaces."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return re.sub(r"[\s_-]+", " ", folded).strip(" .,:;")


class Skill(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    level: Level | None = None


class ProfileFields(BaseModel):
    """The descriptive part of a profile: what an edit, a restore or an ingestion replaces."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(None, max_length=200)
    bio: str | None = Field(None, max_length=5000)
    skills: list[Skill] = Field(default_factory=list, max_length=200)
    interests: list[str] = Field(default_factory=list, max_length=200)
    goals: list[str] = Field(default_factory=list, max_length=100)
    level: Level | None = None
    wiki_content: str = Field("", max_length=MAX_WIKI_CHARS)

    @field_validator("interests", "goals")
    @classmethod
    def _short_unique_items(cls, items: list[str]) -> list[str]:
        return dedupe(item.strip() for item in items if item.strip())

    @field_validator("skills")
    @classmethod
    def _unique_skills(cls, skills: list[Skill]) -> list[Skill]:
        seen: dict[str, Skill] = {}
        for skill in skills:
            seen.setdefault(normalize_name(skill.name), skill)
        return list(seen.values())


def dedupe(items) -> list[str]:
    """Items in order, the first spelling of each normalized name kept; each at most 200 characters."""
    seen: dict[str, str] = {}
    for item in items:
        if len(item) > 200:
            raise ValueError("an item is longer than 200 characters")
        seen.setdefault(normalize_name(item), item)
    return list(seen.values())
