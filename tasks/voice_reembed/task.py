"""The `voice.reembed` kind's body: for each profile of another encoder, every clip's kept audio
through today's encoder (the same code as an enrolment), then its embeddings and encoder replaced
in one transaction; a profile without its audio, or with a clip today's encoder refuses, is left
as it was, with the reason in the output."""

from __future__ import annotations

from core.settings import get_settings
from core.voice_encoders import encoder_of
from db import voices
from db.unit_of_work import unit_of_work
from tasks.voice_reembed.spec import SPEC, VoiceLeft, VoiceReembedded, VoiceReembedInput, VoiceReembedOutput
from workers.documents import DocumentError
from workers.errors import JobFailure
from workers.recordings.voices import ClipRefused, clip_voice
from workers.runtime import JobContext, job_task

AUDIO_NOT_KEPT = "voice_audio_not_kept"


@job_task(SPEC)
def reembed_voices(ctx: JobContext, payload: VoiceReembedInput) -> VoiceReembedOutput:
    settings = get_settings()
    encoder = encoder_of(settings.diarization_engine)
    if encoder is None:
        raise JobFailure(
            "voice_encoder_none",
            f"this worker's diarizer ({settings.diarization_engine}) names no one: no encoder to embed with",
        )
    with unit_of_work() as session:
        profiles = [(p.id, p.name, p.encoder) for p in voices.of_other_encoders(session, encoder=encoder)]
    reembedded, left = [], []
    for index, (profile_id, name, was) in enumerate(profiles):
        ctx.progress("embedding", index / max(len(profiles), 1), name)
        with unit_of_work() as session:
            clips = [(c.id, c.audio) for c in voices.clips_of(session, profile_id=profile_id)]
        if not clips or any(audio is None for _, audio in clips):
            left.append(
                VoiceLeft(
                    profile_id=profile_id,
                    name=name,
                    code=AUDIO_NOT_KEPT,
                    message=f"its clips' audio was not kept (MENTORQ_VOICE_KEEP_AUDIO): enrol {name} again",
                )
            )
            continue
        try:
            heard = [
                (clip_id, clip_voice(audio, max_seconds=settings.voice_clip_max_seconds,
                                     min_voiced_s=settings.voice_min_speech_seconds, encoder=encoder))
                for clip_id, audio in clips
            ]  # fmt: skip
        except (DocumentError, ClipRefused) as error:
            left.append(VoiceLeft(profile_id=profile_id, name=name, code=error.code, message=error.message))
            continue
        with unit_of_work() as session:
            done = voices.reembed(
                session,
                profile_id=profile_id,
                was=was,
                now=encoder,
                clips=[(clip_id, [float(x) for x in v.embedding], v.voiced_s) for clip_id, v in heard],
            )
        if done:  # else deleted, re-enrolled or re-embedded meanwhile: nothing of it is ours to change
            reembedded.append(VoiceReembedded(profile_id=profile_id, name=name, clips=len(heard)))
    return VoiceReembedOutput(encoder=encoder, reembedded=reembedded, left=left)
