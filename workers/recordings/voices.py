"""Named speakers: enrolled people's voices (voice profiles) and the match of a recording's
speakers to them.

A reference clip becomes one embedding: Resemblyzer's voice encoder over the clip's voiced windows
(the very windows diarization embeds, diarization.embed_windows), averaged and made unit length.
Only that is kept, not the audio. A profile's voice is the mean of its clips' embeddings (the
centroid of its enrolment utterances, as GE2E enrols a speaker).

At transcribe time each speaker the diarizer found has a centroid of the same kind; a speaker takes
the name of the enrolled person most like it (cosine similarity) when the similarity reaches the
threshold of that person's role: a guest must be more alike than the host (a recording is usually
the host's, so naming a stranger as the host costs less than naming them as a guest). Pairs are
taken best first, so no two speakers get one person and no speaker gets two.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.recordings import speaker_label
from core.settings import Settings
from workers.recordings.decode import pcm_pieces
from workers.recordings.diarization import KnownVoice, embed_windows
from workers.recordings.speech import speech_segments

ENCODER = "resemblyzer"  # whose embeddings a profile holds: a speaker is matched only against its own kind


ROLES = ("host", "guest")


class ClipRefused(Exception):
    """A reference clip that cannot make a voice profile: `voice_clip_no_speech` or `voice_clip_too_short`."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ClipVoice:
    embedding: np.ndarray  # (256,), unit length
    voiced_s: float  # the seconds of voiced speech it was made from


@dataclass(frozen=True)
class EnrolledVoice:
    profile_id: str
    name: str
    role: str  # host | guest
    embedding: np.ndarray  # the mean of its clips' embeddings, unit length


@dataclass(frozen=True)
class SpeakerMatch:
    label: str  # the diarizer's S1, S2, ...
    profile_id: str
    name: str
    role: str
    similarity: float
    named: bool  # False: the nearest profile, not alike enough (recorded to calibrate thresholds by)

    def as_json(self, *, label: str) -> dict[str, object]:
        """As the transcript records it, under the label the transcript gives the speaker."""
        return {
            "label": label,
            "profile_id": self.profile_id,
            "name": self.name,
            "role": self.role,
            "similarity": self.similarity,
            "named": self.named,
        }


@dataclass(frozen=True)
class VoiceBook:
    """The enrolled voices a transcribe worker names speakers with, and the thresholds by role."""

    voices: tuple[EnrolledVoice, ...]
    thresholds: dict[str, float]

    def match(self, centroids: dict[str, np.ndarray]) -> list[SpeakerMatch]:
        """match_speakers with these voices and thresholds."""
        return match_speakers(centroids, self.voices, thresholds=self.thresholds)

    def known(self) -> tuple[KnownVoice, ...]:
        """The voices as the diarizer uses them: each with the likeness naming it requires."""
        return tuple(KnownVoice(voice.embedding, self.thresholds[voice.role]) for voice in self.voices)


def unit(vector: np.ndarray) -> np.ndarray:
    """The vector scaled to length 1 (a zero vector stays zero)."""
    return vector / max(float(np.linalg.norm(vector)), 1e-9)


def voice_thresholds(settings: Settings, encoder: str | None) -> dict[str, float]:
    """The similarity naming needs, by role, for profiles of `encoder` (each calibrated on its own)."""
    if encoder == "campplus":
        return {
            "host": settings.voice_host_threshold_campplus,
            "guest": settings.voice_guest_threshold_campplus,
        }
    return {"host": settings.voice_host_threshold, "guest": settings.voice_guest_threshold}


def clip_voice(data: bytes, *, max_seconds: float, min_voiced_s: float, encoder: str = ENCODER) -> ClipVoice:
    """A reference clip's voice embedding by `encoder`. DocumentError with the recording decoder's
    codes for a file that is no audio (`corrupt_recording`, `no_audio_track`, `recording_too_long`),
    and ClipRefused (`voice_clip_no_speech`, `voice_clip_too_short`) for one with no speech or too
    little of it."""
    pieces = pcm_pieces(data, max_seconds=max_seconds)
    if encoder == "campplus":
        return _campplus_clip_voice(pieces, min_voiced_s=min_voiced_s)
    blocks, voiced_s = [], 0.0
    for speech in speech_segments(pieces):
        windows = embed_windows(speech)
        voiced_s += sum(end - start for start, end in windows.voiced)
        if len(windows.embeddings):
            blocks.append(windows.embeddings)
    if not blocks:
        raise ClipRefused("voice_clip_no_speech", "no speech was heard in the clip")
    if voiced_s < min_voiced_s:
        raise ClipRefused(
            "voice_clip_too_short",
            f"the clip holds {voiced_s:.1f} s of voiced speech; a voice profile needs {min_voiced_s:g} s",
        )
    return ClipVoice(unit(np.concatenate(blocks).mean(axis=0)), round(voiced_s, 2))


def _campplus_clip_voice(pieces: Iterable[np.ndarray], *, min_voiced_s: float) -> ClipVoice:
    """The clip as the overlap-aware diarizer hears a recording (overlap_diarizer.py): its speaker
    heard longest, that speaker's centroid (CAM++ embeddings of 2 s blocks, weighted by their
    speech), and the seconds segmentation-3.0 heard anyone speak. The very measure a recording's
    speakers are matched with."""
    from workers.recordings.overlap_diarizer import CamppDiarizer

    session = CamppDiarizer().session()
    for speech in speech_segments(pieces):
        session.add(speech)
    turns = session.finish()
    if not turns:
        raise ClipRefused("voice_clip_no_speech", "no speech was heard in the clip")
    spoken: dict[str, float] = {}
    for turn in turns:
        spoken[turn.speaker] = spoken.get(turn.speaker, 0.0) + turn.end_s - turn.start_s
    edges = sorted((turn.start_s, turn.end_s) for turn in turns)
    voiced_s, reach = 0.0, -1.0
    for start, end in edges:  # the union of the turns: two people at once count once
        voiced_s += max(0.0, end - max(start, reach))
        reach = max(reach, end)
    if voiced_s < min_voiced_s:
        raise ClipRefused(
            "voice_clip_too_short",
            f"the clip holds {voiced_s:.1f} s of voiced speech; a voice profile needs {min_voiced_s:g} s",
        )
    centroids = session.centroids()
    return ClipVoice(unit(centroids[max(spoken, key=spoken.get)]), round(voiced_s, 2))


def profile_voice(clips: Iterable[Sequence[float]]) -> np.ndarray:
    """A profile's voice from its clips' embeddings."""
    return unit(np.mean(np.array(list(clips), dtype=np.float32), axis=0))


def match_speakers(
    centroids: dict[str, np.ndarray], voices: Sequence[EnrolledVoice], *, thresholds: dict[str, float]
) -> list[SpeakerMatch]:
    """Each speaker with the enrolled person it is most like, if alike enough for that person's role
    (`thresholds` by role); greedy, best pair first: one person per speaker and one speaker per
    person. A speaker left unnamed comes with its nearest profile, `named` False."""
    pairs = sorted(
        (
            (float(np.dot(unit(centroid), voice.embedding)), label, index)
            for label, centroid in centroids.items()
            for index, voice in enumerate(voices)
        ),
        reverse=True,
    )
    matches: list[SpeakerMatch] = []
    nearest: dict[str, SpeakerMatch] = {}
    taken: set[int] = set()
    for similarity, label, index in pairs:
        voice = voices[index]
        # A profile saved before names were held to SpeakerName's characters is made one here.
        name = speaker_label(voice.name) or label
        match = SpeakerMatch(label, voice.profile_id, name, voice.role, round(similarity, 4), True)
        nearest.setdefault(label, replace(match, named=False))
        if label in {m.label for m in matches} or index in taken or similarity < thresholds[voice.role]:
            continue
        taken.add(index)
        matches.append(match)
    named = {match.label for match in matches}
    matches += [match for label, match in nearest.items() if label not in named]
    return sorted(matches, key=lambda match: match.label)
