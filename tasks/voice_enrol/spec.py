"""The `voice.enrol` kind: a person's reference clips to a voice profile (their embeddings).

A job on the transcribe lane, not work in the API process: the embedding needs torch and the
voice encoder's weights, which an API host does not load (it stays light and starts fast; a test
proves it imports no model library), and a clip is decoded and searched for speech by the same
code as a recording (FFmpeg, Silero VAD), which lives on the transcribe workers. An admin who
wants the answer at once sends `Prefer: wait=N`.
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from core import lanes, voice_names
from core.jobspec import JobSpec
from core.recordings import SpeakerName

# A transcript's own labels for speakers no one is named after: a person may not be called so.
_SPEAKER_LABEL = re.compile(r"S\d+", re.IGNORECASE)


def _not_a_label(name: str) -> str:
    if _SPEAKER_LABEL.fullmatch(name):
        raise ValueError("S1, S2, ... name the speakers no one was matched to; choose another name")
    return name


# The name a transcript will carry: one a rename or a search's `speakers` can name back, stored NFC
# (core/voice_names.py: what else a name may not hold is refused with its own code by the service).
VoiceName = Annotated[SpeakerName, AfterValidator(_not_a_label), AfterValidator(voice_names.normalised)]
VoiceRole = Literal["host", "guest"]


class VoiceClipSent(BaseModel):
    """One clip as sent; the bytes are in the job's attachment (deleted once embedded)."""

    model_config = ConfigDict(extra="forbid")

    filename: str | None = None
    content_type: str | None = None
    bytes: int = Field(ge=0)


class VoiceEnrolInput(BaseModel):
    """Created by POST /v1/admin/voices, or POST /v1/lti/courses/{course_id}/voices (course_id set)."""

    model_config = ConfigDict(extra="forbid")

    name: VoiceName
    role: VoiceRole
    user_id: uuid.UUID | None = None
    course_id: uuid.UUID | None = None
    clips: list[VoiceClipSent] = Field(min_length=1)


class VoiceClipEnrolled(BaseModel):
    filename: str | None
    voiced_s: float


class VoiceEnrolOutput(BaseModel):
    profile_id: uuid.UUID
    name: str
    role: str
    clips: list[VoiceClipEnrolled]


def pack_clips(clips: list[bytes]) -> bytes:
    """The clips as one job attachment: a zip of stored (uncompressed) members `0`, `1`, ..."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for index, clip in enumerate(clips):
            archive.writestr(str(index), clip)
    return out.getvalue()


def unpack_clips(packed: bytes) -> list[bytes]:
    """The clips `pack_clips` packed, in their order."""
    with zipfile.ZipFile(io.BytesIO(packed)) as archive:
        return [archive.read(str(index)) for index in range(len(archive.namelist()))]


SPEC = JobSpec(
    name="voice.enrol",
    description="Enrol a person's voice from reference clips (POST /v1/admin/voices, or a course's voices).",
    input_model=VoiceEnrolInput,
    output_model=VoiceEnrolOutput,
    queue=lanes.TRANSCRIBE,
    soft_time_limit=600,
    time_limit=660,
    internal=True,
)
