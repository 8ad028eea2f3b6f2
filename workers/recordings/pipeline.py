"""A recording to a transcript: decode (decode.py), find the speech (speech.py), recognize each
stretch (engines.py) and hear who speaks in it (diarization.py), as one pass over the audio that
never holds it whole."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from core.documents.errors import DocumentError
from core.metrics import catalog
from core.recordings import TranscriptSegment
from workers.recordings.decode import SAMPLE_RATE, RecordingInfo, pcm_pieces, probe
from workers.recordings.diarization import Diarizer, SpeakerTurn
from workers.recordings.engines import Heard, SpeechEngine, Word
from workers.recordings.speech import speech_segments
from workers.recordings.voices import VoiceBook

PROGRESS_EVERY_S = 2.0  # wall-clock seconds between progress reports (and cancel checks)
MAX_CUE_S = 8.0  # a cue's longest span: about two lines of subtitles
CUE_PAUSE_S = 0.3  # a pause between words this long starts a new cue
NEAREST_TURN_S = 1.0  # a cue no speaker's turn overlaps takes the nearest turn's within this

# done_s, total_s (None when the header does not say); raises to stop (a cancel).
ProgressCallback = Callable[[float, float | None], None]


@dataclass
class Transcript:
    engine: str
    info: RecordingInfo
    duration_s: float = 0.0
    language: str | None = None
    segments: list[TranscriptSegment] = field(default_factory=list)
    # Each speaker's enrolled voice (named) or nearest one (not), when voices were enrolled.
    speaker_matches: list[dict[str, object]] = field(default_factory=list)


def _reporting(
    pieces: Iterable[np.ndarray], total_s: float | None, on_progress: ProgressCallback, heard: list[float]
) -> Iterator[np.ndarray]:
    """The pieces, telling `on_progress` how much audio has been decoded every few seconds."""
    decoded = 0
    next_report = time.monotonic()
    for piece in pieces:
        decoded += len(piece)
        heard[0] = decoded / SAMPLE_RATE
        if time.monotonic() >= next_report:
            on_progress(heard[0], total_s)
            next_report = time.monotonic() + PROGRESS_EVERY_S
        yield piece


def _cues(start_s: float, end_s: float, heard: Heard) -> list[TranscriptSegment]:
    """A stretch of speech as cues a reader can follow: cut at pauses between words, and at most
    MAX_CUE_S long (the VAD's stretches run up to half a minute). Without word times, one cue."""
    if not heard.words:
        return [TranscriptSegment(round(start_s, 3), round(end_s, 3), heard.text.strip())]
    groups: list[list[Word]] = [[]]
    for word in heard.words:
        current = groups[-1]
        if current and (
            word.start_s - current[-1].end_s >= CUE_PAUSE_S or word.end_s - current[0].start_s > MAX_CUE_S
        ):
            groups.append(current := [])
        current.append(word)
    return [
        TranscriptSegment(
            # the group's earliest start and latest end: an engine's word times need not be in order
            start_s=round(start_s + min(word.start_s for word in group), 3),
            end_s=round(start_s + max(word.end_s for word in group), 3),
            text=" ".join(word.text for word in group),
            words=[
                (word.text, round(start_s + word.start_s, 3), round(start_s + word.end_s, 3))
                for word in group
            ],
        )
        for group in groups
        if group
    ]


def label_speakers(
    cues: list[TranscriptSegment], turns: list[SpeakerTurn], *, names: dict[str, str] | None = None
) -> tuple[list[TranscriptSegment], dict[str, str]]:
    """Each cue with the speaker whose turns overlap it most (none: no turn overlaps it), and the
    diarizer's labels to the transcript's. Cues are cut at pauses and at most MAX_CUE_S long, so a
    cue rarely spans a change of speaker. A speaker in `names` (the diarizer's label to an enrolled
    person's name) is called so; the others S1, S2, ... by their place in order of first speech."""
    labelled = []
    for cue in cues:
        overlap: dict[str, float] = {}
        for turn in turns:
            shared = min(cue.end_s, turn.end_s) - max(cue.start_s, turn.start_s)
            if shared > 0:
                overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
        if not overlap and turns:  # words heard where the diarizer found no voice: the nearest turn
            gap, nearest = min(
                (max(turn.start_s - cue.end_s, cue.start_s - turn.end_s), turn.speaker) for turn in turns
            )
            if gap <= NEAREST_TURN_S:
                overlap[nearest] = 1.0
        labelled.append(replace(cue, speaker=max(overlap, key=overlap.__getitem__) if overlap else None))
    # Numbered again in order of first speech among the cues: a speaker whose turns no cue took
    # (a short one between two cues) leaves no gap (S1, S3).
    labels: dict[str, str] = {}
    for cue in labelled:
        if cue.speaker is not None:
            labels.setdefault(cue.speaker, (names or {}).get(cue.speaker) or f"S{len(labels) + 1}")
    return [replace(cue, speaker=labels[cue.speaker]) if cue.speaker else cue for cue in labelled], labels


def transcribe(
    data: bytes,
    *,
    engine: SpeechEngine,
    max_seconds: float,
    on_progress: ProgressCallback,
    diarizer: Diarizer | None = None,
    voices: VoiceBook | None = None,
    speaker_count: int | None = None,
) -> Transcript:
    """The recording's transcript, each cue with its speaker when a diarizer is given (it hears the
    same stretches as the recognizer, in the same pass), named after the enrolled voice it matches
    among `voices` (the diarizer must give centroids; the embedded one also splits a speaker in
    whom two of them are heard), and `speaker_count` of them when the
    uploader said how many people are heard; DocumentError (`corrupt_recording`,
    `no_audio_track`, `recording_too_long`, `no_speech`) when there is none to make."""
    info = probe(data, max_seconds=max_seconds)
    transcript = Transcript(engine=engine.name, info=info)
    heard = [0.0]
    pieces = _reporting(pcm_pieces(data, max_seconds=max_seconds), info.claimed_seconds, on_progress, heard)
    known = voices.known() if voices is not None else ()
    speakers = diarizer.session(speaker_count, known) if diarizer is not None else None
    for speech in speech_segments(pieces):
        if speakers is not None:
            speakers.add(speech)
        result = engine.recognize(speech.samples)
        transcript.language = transcript.language or result.language
        if result.text.strip():
            transcript.segments.extend(_cues(speech.start_s, speech.end_s, result))
    if speakers is not None:
        turns = speakers.finish()
        matches = voices.match(speakers.centroids()) if voices is not None and voices.voices else []
        transcript.segments, labels = label_speakers(
            transcript.segments, turns, names={match.label: match.name for match in matches if match.named}
        )
        # Only the speakers a cue kept: a diarizer's speaker no cue took has no label to record.
        transcript.speaker_matches = [
            match.as_json(label=labels[match.label]) for match in matches if match.label in labels
        ]
    transcript.duration_s = round(heard[0], 3)
    catalog.TRANSCRIBED_AUDIO.labels(catalog.bounded(engine.name.replace("-", "_"))).inc(heard[0])
    on_progress(heard[0], heard[0])
    if not transcript.segments:
        raise DocumentError("no_speech", f"no speech was heard in the recording ({heard[0]:.0f} s of audio)")
    return transcript
