"""Schemas of `voice.reembed`."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict

from core import lanes
from core.jobspec import JobSpec


class VoiceReembedInput(BaseModel):
    """Created by POST /v1/admin/voices/reembed: nothing to choose (every profile of another encoder)."""

    model_config = ConfigDict(extra="forbid")


class VoiceReembedded(BaseModel):
    profile_id: uuid.UUID
    name: str
    clips: int


class VoiceLeft(BaseModel):
    """A profile not re-embedded, with why: `voice_audio_not_kept` (its clips' audio was not kept:
    enrol the person again), or the code the encoder refused a clip with (`voice_clip_too_short`,
    `voice_clip_no_speech`, ...)."""

    profile_id: uuid.UUID
    name: str
    code: str
    message: str


class VoiceReembedOutput(BaseModel):
    encoder: str
    reembedded: list[VoiceReembedded]
    left: list[VoiceLeft]


SPEC = JobSpec(
    name="voice.reembed",
    description="Embed again, by today's voice encoder, the profiles another one embedded (kept audio).",
    input_model=VoiceReembedInput,
    output_model=VoiceReembedOutput,
    queue=lanes.TRANSCRIBE,
    soft_time_limit=1800,
    time_limit=1860,
    internal=True,
)
