"""The embedded diarizer, overlap-aware (`campplus`, the default): pyannote's recipe on the two models
of speaker_models.py, as pyannote.audio's speaker-diarization pipeline runs it (local segmentation,
an embedding per local speaker, clustering, reconstruction), written here because pyannote.audio
cannot be imported beside this torch (speaker_models.py says why).

Per stretch of speech as the VAD yields it (`add`): 10 s chunks every `CHUNK_STEP_S`
(segmentation-3.0 says, for each 17 ms frame, which of up to three local speakers talk, two at once
at most), and for each local speaker heard long enough a CAM++ embedding of its frames (those where
it talks alone, unless that is too little). Only the chunks' frame activity (3 bytes a frame) and
the embeddings (768 bytes) are kept, never the audio.

At the end (`finish`): the embeddings are clustered (agglomerative, average linkage, cosine distance
under `DISTANCE_THRESHOLD`: the number of speakers is found, not given), a voice heard for less
than `MIN_SPEAKER_S` in all goes to the nearest other, enrolled voices split a found voice that
holds two of them (diarization._split_by_voices), a found voice one enrolled person would be named
after sheds the speaker's worth of someone else it holds (`_strangers_split_off`), and a told count
is met (diarization._counted), as the Resemblyzer engine does. Each chunk's local speakers then
take distinct speakers (the closest assignment), and each frame of the recording takes as many
speakers as its chunks heard at once (the most active ones): where two people talk over each other,
both have a turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from workers.recordings.decode import SAMPLE_RATE
from workers.recordings.diarization import (
    KnownVoice,
    SpeakerTurn,
    _counted,
    _first_speech_order,
    _named,
    _split_by_voices,
)
from workers.recordings.speaker_models import SEGMENT_S, fbank, get_models
from workers.recordings.speech import Speech

# Between chunk starts. pyannote's own pipeline steps 1 s (ten times the embeddings); 5 s heard each
# second twice, and CAM++ over those seconds was 72 % of the diarizer's time. 7.5 s, chosen on the
# development recordings (DER within 0.011 of 5 s on each; 10 s lost dev00, 0.056 -> 0.116), ran
# them in 0.72 of the time (issue 60).
CHUNK_STEP_S = 7.5
# Each local speaker is embedded per block of a chunk: segmentation-3.0 alone can keep two people
# in one local speaker (two men on AMI's dev01), and a block's embedding tells them apart.
BLOCK_S = 2.0
MIN_EMBED_S = 0.5  # a local speaker heard for less than this in a block is not embedded
# Average cosine distance between CAM++ embeddings under which two groups are one voice. Chosen on
# the development recordings only (the AMI excerpts and the call's first window, as recorded and
# banded): 0.45 found six voices in the banded call, 0.55 two of the four-person meeting's three;
# merging close centres afterwards (as the Resemblyzer engine does) made the banded call one voice.
DISTANCE_THRESHOLD = 0.5
MIN_SPEAKER_S = 4.0  # a voice heard for less in all is no speaker (a cough, a chair)
# A small voice less alike than this to an enrolled person is not that person (_without_small_
# speakers). Chosen on the development material: a person's own stray seconds found apart from
# their voice were 0.57-0.73 like their profile (the call's first window, Roger and Virgil), short
# strangers 0.37-0.57 (another person of the same call 0.46-0.57; JFK, LibriVox, an AMI speaker
# 0.37-0.48). Between this and the naming threshold a small voice may be either, and joins the
# nearest voice as before.
STRANGER_LIKENESS = 0.55
MIN_TURN_S = 0.1  # a speaker's run of frames shorter than this is dropped ...
JOIN_GAP_S = 0.3  # ... and one speaker's turns closer than this are one turn
FBANK_STEP_S = 0.01


@dataclass
class _Chunk:
    start_s: float  # in the recording
    activity: np.ndarray  # (frames, 3) uint8: which local speakers talk in each frame
    heard_frames: int  # the frames over its audio: past them the window was padding (no one, no vote)


class OverlapSession:
    def __init__(self, speakers: int | None = None, voices: Sequence[KnownVoice] = ()) -> None:
        self._models = get_models()  # loaded (or SpeakerModelsUnavailable) before the first stretch
        self._speakers = speakers
        self._voices = tuple(voices)
        self._chunks: list[_Chunk] = []
        self._embeddings: list[np.ndarray] = []  # (192,) each
        self._owners: list[tuple[int, int, int, int]] = []  # each embedding's chunk, local speaker, frames
        self._seconds: list[float] = []  # each embedding's local speaker's seconds of speech
        self._centroids: dict[str, np.ndarray] = {}

    def add(self, speech: Speech) -> None:
        audio = speech.samples.astype(np.float32) / 32768.0
        window, step = int(SEGMENT_S * SAMPLE_RATE), int(CHUNK_STEP_S * SAMPLE_RATE)
        if not len(audio):
            return
        starts = list(range(0, max(1, len(audio) - window + 1), step))
        if len(audio) > window and starts[-1] != len(audio) - window:
            starts.append(len(audio) - window)
        pieces = [audio[start : start + window] for start in starts]
        chunks = np.stack([np.pad(piece, (0, window - len(piece))) for piece in pieces])
        segmentation = self._models.segment(chunks)
        frame_s = segmentation.frame_step_s
        # How many chunks hear each frame of the stretch (two where they overlap): a local
        # speaker's seconds are its frames each divided by that, so that a voice's seconds in all
        # are the time it was heard, not twice it.
        offsets = [int(round(start / SAMPLE_RATE / frame_s)) for start in starts]
        span = segmentation.activity.shape[1]
        cover = np.zeros(offsets[-1] + span, dtype=np.float32)
        for offset, piece in zip(offsets, pieces, strict=True):
            cover[offset : offset + min(span, int(len(piece) / SAMPLE_RATE / frame_s))] += 1
        features, owners, seconds = [], [], []
        for offset, start, piece, activity in zip(
            offsets, starts, pieces, segmentation.activity, strict=True
        ):
            activity = activity.copy()
            share = 1.0 / np.maximum(cover[offset : offset + span], 1.0)
            heard_frames = min(len(activity), int(len(piece) / SAMPLE_RATE / frame_s))
            activity[heard_frames:] = 0  # the padding is no one
            index = len(self._chunks)
            self._chunks.append(_Chunk(speech.start_s + start / SAMPLE_RATE, activity, heard_frames))
            bank = fbank(piece)
            # each fbank frame (25 ms every 10 ms) read against the segmentation frame at its middle
            at = np.minimum(
                ((np.arange(len(bank)) * FBANK_STEP_S + 0.0125) / frame_s).astype(int), len(activity) - 1
            )
            alone = activity.sum(axis=1) < 2
            block = int(round(BLOCK_S / frame_s))
            for first in range(0, len(activity), block):
                last = min(first + block, len(activity))
                for local in range(activity.shape[1]):
                    heard = np.zeros(len(activity), dtype=bool)
                    heard[first:last] = activity[first:last, local].astype(bool)
                    if heard.sum() * frame_s < MIN_EMBED_S:
                        continue
                    clean = heard & alone
                    chosen = clean if clean.sum() * frame_s >= MIN_EMBED_S else heard
                    frames = bank[chosen[at]]
                    if len(frames) < 10:
                        continue
                    features.append(frames)
                    owners.append((index, local, first, last))
                    seconds.append(float(share[heard].sum() * frame_s))
        if features:
            self._embeddings.extend(self._models.embed(features))
            self._owners.extend(owners)
            self._seconds.extend(seconds)

    def finish(self) -> list[SpeakerTurn]:
        if not self._embeddings:
            self._chunks = []
            return []
        embeddings = np.stack(self._embeddings)
        seconds = np.array(self._seconds)
        labels = _clusters(embeddings)
        labels = _without_small_speakers(embeddings, labels, seconds, self._voices)
        if self._voices:  # two enrolled people heard in one found voice are two speakers
            chunks = np.array([owner[0] for owner in self._owners])
            labels = _split_by_voices(
                embeddings, labels, chunks, self._voices, seconds=seconds, vote_windows=0
            )
            labels = _strangers_split_off(embeddings, labels, self._voices, seconds)
        if self._speakers:  # told how many: as many as that, from the voices found
            labels = _counted(embeddings, labels, self._speakers)
        centres = _weighted_centres(embeddings, labels, seconds)
        labels = _distinct_in_each_chunk(embeddings, labels, self._owners, centres)
        turns = _reconstructed(self._chunks, self._owners, labels, self._models.frame_step_s)
        names = _first_speech_order(turns)
        self._centroids = {
            names[str(label)]: centre for label, centre in centres.items() if str(label) in names
        }
        self._chunks, self._embeddings, self._owners, self._seconds = [], [], [], []
        return _named(turns, names)

    def centroids(self) -> dict[str, np.ndarray]:
        return dict(self._centroids)


def _clusters(embeddings: np.ndarray) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    if len(embeddings) == 1:
        return np.zeros(1, dtype=int)
    clustering = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=DISTANCE_THRESHOLD
    )
    return clustering.fit_predict(embeddings)


def _strangers_split_off(
    embeddings: np.ndarray, labels: np.ndarray, voices: Sequence[KnownVoice], seconds: np.ndarray
) -> np.ndarray:
    """A found voice an enrolled person would be named after, holding a speaker's worth of someone
    else: that someone split off as a speaker of their own (unnamed, unless enrolled too).

    Why: CAM++ puts two alike voices (espeak's, 0.62 apart as profiles) inside DISTANCE_THRESHOLD,
    so with one of them enrolled the other's words were named after that person in a third to a
    half of the generated conversations (benchmarks.speaker_naming). The found voice's embeddings
    are cut in two (2-means, seeded by the ones most and least like the person); the far part goes
    when it is MIN_SPEAKER_S of speech and its mean is not alike enough to be named after the person
    (the role's threshold), while the near part is. On the development material the far part of a
    found voice that is one person was at most 3.2 s (real call and espeak alike), of one that
    held two people at least 11.6 s, 0.62-0.79 like the person against a threshold of 0.82."""
    labels = labels.copy()
    matrix = np.stack([voice.embedding for voice in voices])
    next_label = int(labels.max()) + 1
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        likeness = _mean_of(embeddings[members], seconds[members]) @ matrix.T
        person = int(np.argmax(likeness))
        voice = voices[person]
        if likeness[person] < voice.threshold or len(members) < 2:
            continue
        near = _two_means(embeddings[members], embeddings[members] @ voice.embedding)
        far = members[~near]
        if (
            float(seconds[far].sum()) >= MIN_SPEAKER_S
            and float(_mean_of(embeddings[far], seconds[far]) @ voice.embedding) < voice.threshold
            and float(_mean_of(embeddings[members[near]], seconds[members[near]]) @ voice.embedding)
            >= voice.threshold
        ):
            labels[far] = next_label
            next_label += 1
    return labels


def _two_means(embeddings: np.ndarray, likeness: np.ndarray, rounds: int = 10) -> np.ndarray:
    """Which embeddings fall on the near side of a 2-means split seeded by the most and the least
    alike (`likeness`); all True when they do not come apart."""
    near_centre, far_centre = embeddings[int(np.argmax(likeness))], embeddings[int(np.argmin(likeness))]
    near = np.ones(len(embeddings), dtype=bool)
    for _ in range(rounds):
        near = embeddings @ near_centre >= embeddings @ far_centre
        if near.all() or not near.any():
            return np.ones(len(embeddings), dtype=bool)
        near_centre, far_centre = _mean_of(embeddings[near]), _mean_of(embeddings[~near])
    return near


def _mean_of(embeddings: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The unit-length mean of embeddings (weighted by `weights`, seconds of speech, if given)."""
    total = embeddings.sum(axis=0) if weights is None else (embeddings * weights[:, None]).sum(axis=0)
    return total / max(float(np.linalg.norm(total)), 1e-9)


def _weighted_centres(
    embeddings: np.ndarray, labels: np.ndarray, seconds: np.ndarray
) -> dict[int, np.ndarray]:
    """Each voice's centre: its embeddings' mean, weighted by their speakers' seconds, unit length."""
    return {
        int(label): _mean_of(embeddings[labels == label], seconds[labels == label])
        for label in np.unique(labels)
    }


def _without_small_speakers(
    embeddings: np.ndarray,
    labels: np.ndarray,
    seconds: np.ndarray,
    voices: Sequence[KnownVoice] = (),
) -> np.ndarray:
    """Voices heard for less than MIN_SPEAKER_S in all go to the nearest voice that is not, except
    that a small voice unlike an enrolled person (`_unlike`) never joins a voice that would be
    named after that person: it goes to the nearest voice that would not, or stays a speaker of its
    own when there is none.

    Why the exception: a student's short question in an enrolled lecturer's office hours is a
    small voice, and the lecturer's the only one near; it went to the lecturer and was named after
    them, so a search for what the lecturer said found the student's words (every one of 18 short
    strangers, 1.5-3.5 s, in benchmarks.speaker_naming --short-strangers before this)."""
    heard = {int(label): float(seconds[labels == label].sum()) for label in np.unique(labels)}
    kept = [label for label, total in heard.items() if total >= MIN_SPEAKER_S] or [max(heard, key=heard.get)]
    if len(kept) == len(heard):
        return labels
    centres = _weighted_centres(embeddings, labels, seconds)
    named_after = {label: _named_after(centres[label], voices) for label in kept}
    merged = labels.copy()
    for label in heard:
        if label in kept:
            continue
        unlike = _unlike(centres[label], voices)
        allowed = [other for other in kept if named_after[other] not in unlike]
        if not allowed:
            continue  # a speaker of its own: unnamed, rather than named after whom it is unlike
        members = labels == label
        matrix = np.stack([centres[other] for other in allowed])
        merged[members] = np.array(allowed)[np.argmax(embeddings[members] @ matrix.T, axis=1)]
    return merged


def _named_after(centre: np.ndarray, voices: Sequence[KnownVoice]) -> int | None:
    """The enrolled voice (its index) a found voice with this centre would be named after, if any."""
    if not voices:
        return None
    likeness = np.stack([voice.embedding for voice in voices]) @ centre
    person = int(np.argmax(likeness))
    return person if likeness[person] >= voices[person].threshold else None


def _unlike(centre: np.ndarray, voices: Sequence[KnownVoice]) -> set[int]:
    """The enrolled voices (their indexes) a voice with this centre is clearly not: likeness under
    STRANGER_LIKENESS."""
    return {
        index for index, voice in enumerate(voices) if float(centre @ voice.embedding) < STRANGER_LIKENESS
    }


def _distinct_in_each_chunk(
    embeddings: np.ndarray,
    labels: np.ndarray,
    owners: list[tuple[int, int, int, int]],
    centres: dict[int, np.ndarray],
) -> np.ndarray:
    """Two local speakers of one chunk are two people: where clustering put them in one voice, the
    chunk's speakers take the voices closest to them with none taken twice (pyannote's constrained
    assignment); a chunk with more local speakers than voices keeps its labels."""
    from scipy.optimize import linear_sum_assignment

    labels = labels.copy()
    keys = list(centres)
    matrix = np.stack([centres[key] for key in keys])
    by_chunk: dict[tuple[int, int], list[int]] = {}
    for index, (chunk, _, first, _) in enumerate(owners):
        by_chunk.setdefault((chunk, first), []).append(index)
    for members in by_chunk.values():
        if len(members) < 2 or len(members) > len(keys) or len(set(labels[members])) == len(members):
            continue
        rows, columns = linear_sum_assignment(-(embeddings[members] @ matrix.T))
        for row, column in zip(rows, columns, strict=True):
            labels[members[row]] = keys[column]
    return labels


def _reconstructed(
    chunks: list[_Chunk], owners: list[tuple[int, int, int, int]], labels: np.ndarray, frame_s: float
) -> list[SpeakerTurn]:
    """The recording's frames, each given as many speakers as its chunks heard at once (their mean
    count, rounded), the ones most active there; runs of a speaker's frames are its turns."""
    speakers = sorted({int(label) for label in labels})
    column = {speaker: index for index, speaker in enumerate(speakers)}
    length = max(int(round(chunk.start_s / frame_s)) + len(chunk.activity) for chunk in chunks)
    score = np.zeros((length, len(speakers)), dtype=np.float32)
    heard = np.zeros(length, dtype=np.float32)
    covered = np.zeros(length, dtype=np.float32)
    starts = [int(round(chunk.start_s / frame_s)) for chunk in chunks]
    for at, chunk in zip(starts, chunks, strict=True):
        # Only the frames over the chunk's audio vote: its padding (a stretch shorter than the
        # window) may lie over the next stretch's speech, where it would halve the count heard.
        span = slice(at, at + chunk.heard_frames)
        covered[span] += 1
        heard[span] += chunk.activity[: chunk.heard_frames].sum(axis=1)
    for (index, local, first, last), label in zip(owners, labels, strict=True):
        at = starts[index]
        score[at + first : at + last, column[int(label)]] += chunks[index].activity[first:last, local]
    count = np.rint(np.divide(heard, covered, out=np.zeros_like(heard), where=covered > 0)).astype(int)
    count = np.minimum(count, (score > 0).sum(axis=1))
    order = np.argsort(-score, axis=1)
    active = np.zeros_like(score, dtype=bool)
    for rank in range(min(2, len(speakers))):
        rows = np.flatnonzero(count > rank)
        active[rows, order[rows, rank]] = True
    turns: list[SpeakerTurn] = []
    for speaker, index in column.items():
        edges = np.diff(np.concatenate([[0], active[:, index].astype(np.int8), [0]]))
        runs = [
            (start * frame_s, end * frame_s)
            for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True)
        ]
        joined: list[list[float]] = []
        for start, end in runs:
            if joined and start - joined[-1][1] < JOIN_GAP_S:
                joined[-1][1] = end
            else:
                joined.append([start, end])
        turns.extend(
            SpeakerTurn(str(speaker), start, end) for start, end in joined if end - start >= MIN_TURN_S
        )
    return sorted(turns, key=lambda turn: (turn.start_s, turn.end_s))


class CamppDiarizer:
    name = "campplus"

    def session(self, speakers: int | None = None, voices: Sequence[KnownVoice] = ()) -> OverlapSession:
        return OverlapSession(speakers, voices)
