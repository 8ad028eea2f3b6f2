"""Voice profiles as the API reads and writes them (an admin's, or a course's)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from tasks.voice_enrol.spec import VoiceName, VoiceRole


class VoiceProfileCreate(BaseModel):
    """The form fields of an enrolment (the clips are its `clip` files)."""

    model_config = ConfigDict(extra="forbid")

    name: VoiceName
    role: VoiceRole = Field(description="`host` or `guest`: whose similarity threshold applies")
    user_id: uuid.UUID | None = Field(None, description="the person's account: exported and deleted with it")


class VoiceProfileUpdate(BaseModel):
    """A rename: the same rules as an enrolment's name, in the profile's scope."""

    model_config = ConfigDict(extra="forbid")

    name: VoiceName


class VoiceProfileReenrolment(BaseModel):
    code: str = Field(description="`voice_profile_needs_reenrolment`")
    message: str


class VoiceProfileRead(BaseModel):
    id: uuid.UUID
    name: str
    role: str
    encoder: str
    user_id: uuid.UUID | None
    course_id: uuid.UUID | None = Field(
        description="the course whose recordings alone it names; null: every recording"
    )
    created_at: datetime
    clip_count: int
    needs_reenrolment: VoiceProfileReenrolment | None = Field(
        None,
        description=(
            "set when the profile was embedded by another voice encoder than the diarizer's (say "
            "Resemblyzer's, the diarizer now CAM++): it names no one until its person is enrolled again"
        ),
    )


class VoiceProfileList(BaseModel):
    items: list[VoiceProfileRead]


class VoiceCourse(BaseModel):
    """A course whose own voice profiles the caller keeps (the console's scopes)."""

    id: uuid.UUID
    title: str | None
    label: str | None


class VoiceClipExport(BaseModel):
    filename: str | None
    voiced_s: float
    embedding: list[float]
    audio_kept: bool


class VoiceProfileExport(VoiceProfileRead):
    """The profile with what it holds: each clip's embedding (the audio is never exported)."""

    clips: list[VoiceClipExport]
