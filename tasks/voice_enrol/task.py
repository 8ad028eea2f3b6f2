"""The `voice.enrol` kind's body: embed each clip, refuse one without enough speech, store the profile."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from core.settings import get_settings
from core.voice_encoders import encoder_of
from db import attachments, voices
from db.unit_of_work import unit_of_work
from tasks.voice_enrol.spec import (
    SPEC,
    VoiceClipEnrolled,
    VoiceEnrolInput,
    VoiceEnrolOutput,
    unpack_clips,
)
from workers.documents import DocumentError
from workers.errors import JobFailure
from workers.recordings.voices import ENCODER, ClipRefused, clip_voice
from workers.runtime import JobContext, job_task


class _Confusable(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


@job_task(SPEC)
def enrol_voice(ctx: JobContext, payload: VoiceEnrolInput) -> VoiceEnrolOutput:
    """One embedding per clip; the first clip refused fails the job with its code (naming the clip)
    and stores nothing. Either way the uploaded audio is deleted unless MENTORQ_VOICE_KEEP_AUDIO."""
    settings = get_settings()
    with unit_of_work() as session:
        upload = attachments.attachment(session, job_id=ctx.job_id)
        packed = upload.content if upload is not None else None
    if packed is None:
        raise JobFailure("source_missing", "the clips were deleted before they could be enrolled")
    # Embedded by the diarizer's own encoder, so the profile names its speakers (Resemblyzer's where
    # the diarizer names no one: pyannote, off).
    encoder = encoder_of(settings.diarization_engine) or ENCODER
    clips = []
    for index, (sent, data) in enumerate(zip(payload.clips, unpack_clips(packed), strict=True)):
        ctx.progress("embedding", index / len(payload.clips), sent.filename)
        try:
            voice = clip_voice(
                data,
                max_seconds=settings.voice_clip_max_seconds,
                min_voiced_s=settings.voice_min_speech_seconds,
                encoder=encoder,
            )
        except (DocumentError, ClipRefused) as error:
            with unit_of_work() as session:
                voices.forget_upload(session, job_id=ctx.job_id)
            what = f"clip {index + 1}" + (f" ({sent.filename})" if sent.filename else "")
            raise JobFailure(error.code, f"{what}: {error.message}") from error
        clips.append(
            {
                "filename": sent.filename,
                "voiced_s": voice.voiced_s,
                "embedding": [float(x) for x in voice.embedding],
                "audio": data if settings.voice_keep_audio else None,
            }
        )
    try:
        with unit_of_work() as session:
            # The API refused a confusable name when the job was asked for; another enrolment in
            # the scope may have been asked for meanwhile: checked again here, one at a time.
            voices.lock_names(session, course_id=payload.course_id)
            alike = voices.confusable_name(session, name=payload.name, course_id=payload.course_id)
            if alike is not None and alike.casefold() != payload.name.casefold():
                raise _Confusable(alike)
            profile = voices.create_profile(
                session,
                name=payload.name,
                role=payload.role,
                encoder=encoder,
                user_id=payload.user_id,
                course_id=payload.course_id,
                enrolled_by=ctx.owner_id,
                clips=clips,
            )
            voices.forget_upload(session, job_id=ctx.job_id)
            profile_id = profile.id
    except _Confusable as confusable:
        with unit_of_work() as session:
            voices.forget_upload(session, job_id=ctx.job_id)
        raise JobFailure(
            "voice_name_confusable", f"{payload.name!r} reads like {confusable.name!r}, a voice profile"
        ) from None
    except IntegrityError as error:
        with unit_of_work() as session:
            voices.forget_upload(session, job_id=ctx.job_id)
        if "_name" in str(error.orig):  # uq_voice_profiles_shared_name or uq_voice_profiles_course_name
            raise JobFailure("voice_profile_exists", f"a voice profile is named {payload.name!r}") from error
        if "course_id" in str(error.orig):
            raise JobFailure(
                "lti_course_not_found", "the course was deleted before the voice was enrolled"
            ) from error
        raise JobFailure("user_not_found", "the account to link the profile to was deleted") from error
    return VoiceEnrolOutput(
        profile_id=profile_id,
        name=payload.name,
        role=payload.role,
        clips=[VoiceClipEnrolled(filename=c["filename"], voiced_s=c["voiced_s"]) for c in clips],
    )
