"""Profiles: sign-up with a profile, revisions, export, deletion, profile ingestion."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from core.profiles.fields import MAX_WIKI_CHARS, USERNAME_PATTERN, Level, Skill

Username = Field(pattern=USERNAME_PATTERN, description="3-40 letters, digits, '.', '_' or '-'")


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(max_length=200)
    username: str = Username
    display_name: str | None = Field(None, max_length=200)


class AccountCreated(BaseModel):
    user_id: uuid.UUID
    username: str
    status: str = "created"


class ProfileRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID | None
    external_id: str | None
    username: str
    display_name: str | None
    bio: str | None
    skills: list[Skill]
    interests: list[str]
    goals: list[str]
    level: Level | None
    wiki_content: str
    revision: int
    wiki_document_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class ProfilePatch(BaseModel):
    """The fields to change; those left out stay. `display_name`, `bio` and `level` may be null (cleared)."""

    model_config = ConfigDict(extra="forbid")

    username: str | None = Field(None, pattern=USERNAME_PATTERN)
    display_name: str | None = Field(None, max_length=200)
    bio: str | None = Field(None, max_length=5000)
    skills: list[Skill] | None = Field(None, max_length=200)
    interests: list[str] | None = Field(None, max_length=200)
    goals: list[str] | None = Field(None, max_length=100)
    level: Level | None = None
    wiki_content: str | None = Field(None, max_length=MAX_WIKI_CHARS)

    def changes(self) -> dict[str, Any]:
        """Only the fields sent; a null list or username is refused (they cannot be absent)."""
        sent = self.model_dump(include=self.model_fields_set)
        for name in ("username", "skills", "interests", "goals", "wiki_content"):
            if name in sent and sent[name] is None:
                raise ValueError(f"{name} may not be null; leave it out to keep it")
        return sent


class RevisionRead(BaseModel):
    revision: int
    source: str
    created_at: datetime
    data: dict[str, Any]


class RevisionList(BaseModel):
    items: list[RevisionRead]


class ProfileList(BaseModel):
    items: list[ProfileRead]
    next_cursor: str | None = None


class ProfileTextIngest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=500_000)
    user_email: EmailStr | None = Field(None, description="admins: ingest for this account")
    external_id: str | None = Field(
        None, min_length=1, max_length=200, description="admins: a person without an account"
    )
    session_id: uuid.UUID | None = None


class AccountDeletion(BaseModel):
    status: str = "deleting"
    job_id: uuid.UUID
