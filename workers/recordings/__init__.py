"""Recordings (audio and video) to transcripts for the `ingest` job's transcribe stage.

decode.py (FFmpeg's libraries through PyAV) -> speech.py (Silero VAD) -> engines.py (PocketSphinx
embedded, faster-whisper in production) beside diarization.py (Resemblyzer embedded, pyannote in
production: who speaks when; voices.py names speakers after enrolled voices) -> pipeline.py (cues
with times). Here: the transcript
as the knowledge store takes it (sections with times, as for SRT) and as its table row.
"""

from __future__ import annotations

import uuid
from typing import Any

from core.settings import Settings
from core.voice_encoders import encoder_of
from db import voices as voice_queries
from db.unit_of_work import unit_of_work
from workers.documents.model import ParsedDocument, Section
from workers.errors import JobFailure
from workers.recordings.diarization import Diarizer, diarizer_problem, get_diarizer
from workers.recordings.engines import SpeechEngine, engine_problem, get_engine
from workers.recordings.pipeline import Transcript, transcribe
from workers.recordings.voices import EnrolledVoice, VoiceBook, profile_voice, voice_thresholds


def speech_engine(settings: Settings) -> SpeechEngine:
    """The configured engine, or a retryable `speech_engine_unavailable` job failure naming what is
    missing (faster-whisper's weights not placed on this host, say): the operator can fix it in time."""
    problem = engine_problem(settings)
    if problem is not None:
        raise JobFailure("speech_engine_unavailable", problem, retryable=True)
    return get_engine(settings)


def speaker_diarizer(settings: Settings) -> Diarizer | None:
    """The configured diarizer (None when MENTORQ_DIARIZATION_ENGINE=off), or a retryable
    `diarizer_unavailable` job failure naming what is missing (pyannote's pipeline not placed on
    this host, say), as for the speech engine."""
    if settings.diarization_engine == "off":
        return None
    problem = diarizer_problem(settings)
    if problem is not None:
        raise JobFailure("diarizer_unavailable", problem, retryable=True)
    return get_diarizer(settings)


def enrolled_voices(settings: Settings, *, collection_id: uuid.UUID) -> VoiceBook:
    """The enrolled voices of the diarizer's encoder a recording in the collection may be named
    after (db.voices.enrolled), with that encoder's thresholds by role, as they stand when its
    transcription starts. Profiles of another encoder are never compared (their voices are another
    model's numbers): they need re-enrolling (db.voices.profile_json says so)."""
    encoder = encoder_of(settings.diarization_engine)
    thresholds = voice_thresholds(settings, encoder)
    if encoder is None:
        return VoiceBook((), thresholds)
    with unit_of_work() as session:
        enrolled = voice_queries.enrolled(session, encoder=encoder, collection_id=collection_id)
        voices = tuple(
            EnrolledVoice(str(profile.id), profile.name, profile.role, profile_voice(embeddings))
            for profile, embeddings in enrolled
        )
    return VoiceBook(voices, thresholds)


def transcript_document(transcript: Transcript) -> ParsedDocument:
    """The transcript as a parsed document: one section per cue, with its start and end."""
    sections = [
        Section(
            text=segment.text,
            heading_path=[],
            start_s=segment.start_s,
            end_s=segment.end_s,
            speaker=segment.speaker,
        )
        for segment in transcript.segments
    ]
    metadata = {
        "duration_s": transcript.duration_s,
        "cues": len(transcript.segments),
        "transcribed_by": transcript.engine,
        "container": transcript.info.container,
        "audio_codec": transcript.info.audio_codec,
        "video": transcript.info.has_video,
    }
    return ParsedDocument(format="recording", title=None, sections=sections, metadata=metadata)


def transcript_row(transcript: Transcript) -> dict[str, Any]:
    """The `transcripts` row's fields (db/models/documents.py)."""
    return {
        "engine": transcript.engine,
        "language": transcript.language,
        "duration_s": transcript.duration_s,
        "segments": [segment.as_json() for segment in transcript.segments],
        "speaker_matches": transcript.speaker_matches or None,
    }


__all__ = [
    "Transcript",
    "diarizer_problem",
    "engine_problem",
    "enrolled_voices",
    "get_engine",
    "speaker_diarizer",
    "speech_engine",
    "transcribe",
    "transcript_document",
    "transcript_row",
]
