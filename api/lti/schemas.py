"""The admin API's view of LTI: a registered platform, and what a platform needs to know of the tool."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.same_origin import web_origin

URL_CHARS = 2000


def _web_url(value: str) -> str:
    value = value.strip()
    if web_origin(value) is None:
        raise ValueError("must be an http(s) URL")
    return value


def _no_control_characters(value: str) -> str:
    """A NUL (which no database column takes), another control character or a lone surrogate is
    refused with a 422 naming the field, not a 500 from the database."""
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError("must not hold control characters")
    return value


class PlatformCreate(BaseModel):
    """A platform registered by hand: the values its LTI tool registration page shows."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Moodle of Example University"])
    issuer: str = Field(min_length=1, max_length=URL_CHARS, examples=["https://moodle.example.edu"])
    client_id: str = Field(min_length=1, max_length=255, examples=["Jg3xkQ7a2Pz1"])
    deployment_ids: list[str] = Field(min_length=1, max_length=100, examples=[["1"]])
    auth_login_url: str = Field(
        max_length=URL_CHARS, examples=["https://moodle.example.edu/mod/lti/auth.php"]
    )
    auth_token_url: str = Field(
        max_length=URL_CHARS, examples=["https://moodle.example.edu/mod/lti/token.php"]
    )
    jwks_url: str = Field(max_length=URL_CHARS, examples=["https://moodle.example.edu/mod/lti/certs.php"])

    @field_validator("auth_login_url", "auth_token_url", "jwks_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return _web_url(value)

    @field_validator("name", "issuer", "client_id")
    @classmethod
    def _printable(cls, value: str) -> str:
        return _no_control_characters(value)

    @field_validator("deployment_ids")
    @classmethod
    def _deployments(cls, value: list[str]) -> list[str]:
        cleaned = [_no_control_characters(item.strip()) for item in value]
        if any(not item or len(item) > 255 for item in cleaned):
            raise ValueError("each deployment id is 1 to 255 characters")
        return sorted(set(cleaned))


class PlatformRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    issuer: str
    client_id: str
    deployment_ids: list[str]
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    created_at: datetime


class PlatformList(BaseModel):
    items: list[PlatformRead]


class ToolConfiguration(BaseModel):
    """What a platform administrator enters for this tool when registering it by hand."""

    login_url: str = Field(description="OpenID Connect login initiation URL")
    redirect_uris: list[str] = Field(description="the launch URL (the id_token's form POST)")
    target_link_uri: str = Field(description="the default target of a launch")
    jwks_url: str = Field(description="the tool's public keys")
    signing_key_ids: list[str] = Field(description="the published keys' ids; the first signs")


class CourseRead(BaseModel):
    """A course (LTI context) of a platform, as its latest launch named it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    platform_id: uuid.UUID
    context_id: str = Field(description="the course's id at its platform")
    title: str | None
    label: str | None
    roster_available: bool = Field(description="whether the platform offers its roster (NRPS)")
    line_items_available: bool = Field(description="whether mentorq may make gradebook columns there (AGS)")


class CourseList(BaseModel):
    items: list[CourseRead]


class RosterMemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    subject: str = Field(description="the member's user id at the platform")
    user_id: uuid.UUID | None = Field(description="their mentorq account, once they launched")
    name: str | None
    email: str | None
    roles: list[str]
    status: str = Field(description="Active, Inactive or Deleted")
    synced_at: datetime


class Roster(BaseModel):
    items: list[RosterMemberRead]


class LineItemRead(BaseModel):
    """The course's gradebook column for an exercise (an AGS line item)."""

    model_config = ConfigDict(from_attributes=True)

    exercise_id: uuid.UUID
    lineitem_url: str
    label: str | None
    created_by_tool: bool = Field(description="made by mentorq (POST line-items), not by a placement")
    updated_at: datetime


class LineItemList(BaseModel):
    items: list[LineItemRead]


class LineItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exercise_id: uuid.UUID
    label: str | None = Field(None, min_length=1, max_length=200, description="default: the exercise's title")


class RegistrationUrl(BaseModel):
    """A one-time Dynamic Registration URL: whoever has it may register one platform, until it expires."""

    registration_url: str
    expires_at: datetime


class RegistrationCodeRead(BaseModel):
    """A registration URL still open: only its code's digest is kept, so the URL itself is shown
    once, when it is made; `code_id` (the digest's start) tells two open ones apart."""

    code_id: str
    created_by: str | None = Field(description="the e-mail of the admin who made it")
    created_at: datetime
    expires_at: datetime


class PlatformStatus(PlatformRead):
    """A registration with what its launches left: the accounts they reach and the latest launch."""

    accounts_key: str
    shares_accounts_with: list[uuid.UUID] = Field(
        description="the other live registrations whose launches reach the same accounts"
    )
    accounts: int = Field(description="platform users linked to accounts under its accounts key")
    last_launch_at: datetime | None = Field(description="the latest launch of one of those accounts")
