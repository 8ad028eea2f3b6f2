"""Who speaks when: a recording's stretches of speech (speech.py) in, speaker turns out.

Engines behind one interface (`Diarizer.session()`, then `add` each stretch as the VAD yields it,
then `finish`):

- `campplus` (the embedded default, overlap-aware): overlap_diarizer.py.
- `resemblyzer` (embedded, the default before it): Resemblyzer's voice encoder (voice_encoder.py; its weights
  ship in its wheel) embeds 1.6 s windows every `STEP_S` over each stretch; the embeddings (1 KB a
  window, 7 MB for an hour of speech) are all that is kept of the audio. At the end they are
  clustered (scikit-learn's agglomerative clustering, average linkage, cosine distance under
  `DISTANCE_THRESHOLD`: the number of speakers is found, not given; clusters whose centres are
  closer than `MERGE_DISTANCE` are then one voice, as a real voice drifts), each 0.1 s of voiced audio
  takes the speaker its nearby windows vote for, and the turns are smoothed: a speaker heard for
  less than `MIN_SPEAKER_S` in all (a cough, a chair) is no speaker and its windows go to the
  nearest one; a turn shorter than `MIN_TURN_S` goes to its neighbours. It does not detect
  overlapping speech: each moment has one speaker. Given the enrolled voices a recording may hold
  (`KnownVoice`), a found voice in which two of them are heard is split between them
  (`_split_by_voices`), and told a count, it gives that many (`_counted`).
- `pyannote` (production, on the GPU host): pyannote.audio's speaker-diarization pipeline, loaded
  from a local folder (MENTORQ_DIARIZATION_MODEL); never downloaded by a worker. It keeps
  overlapping speech as overlapping turns.

Labels are `S1`, `S2`, ... in order of first speech; a recording with no speech has no speakers.
"""

from __future__ import annotations

import os
import tempfile
import threading
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.settings import Settings
from workers.devices import resolve_device
from workers.recordings.decode import SAMPLE_RATE
from workers.recordings.speech import Speech
from workers.recordings.voice_encoder import (
    EMBEDDING_SIZE,
    FRAMES_PER_SECOND,
    WINDOW_FRAMES,
    get_encoder,
    mel_frames,
    normalised,
    weights_path,
)

STEP_S = 0.5  # between window starts: a turn boundary is placed to within about half of this
TICK_S = 0.1  # the grain of the turns
DISTANCE_THRESHOLD = 0.3  # average cosine distance under which two groups of windows are one voice
# A voice heard for less than this in all is no speaker (a cough, a laugh, and on real meetings the
# pieces one voice splits into); a person who says only "mm, yeah" goes to a neighbour.
MIN_SPEAKER_S = 4.0
# Clusters whose centres are closer than this (cosine distance) are one voice: real voices, unlike
# synthetic ones, drift across a meeting (loudness, distance to the microphone), and average
# linkage at DISTANCE_THRESHOLD leaves one person in several clusters. Measured on three AMI
# excerpts (benchmarks.diarization --real-only): DER 0.534/0.214/0.274 without, 0.169/0.115/0.138
# with it and MIN_SPEAKER_S 4; at 0.2 distinct voices collapse.
MERGE_DISTANCE = 0.15
# Windows either side (in the same stretch) whose likeness to each enrolled voice a window's vote
# averages: 2.6 s of speech in all, a few words; chosen before measuring, not tuned.
VOICE_VOTE_WINDOWS = 2
MIN_TURN_S = 1.0  # a turn shorter than this between others is theirs
JOIN_GAP_S = 0.5  # one speaker's turns closer than this are one turn
MAX_CLUSTERED = (
    2000  # windows clustered at once (its distance matrix is n² / 2 floats); the rest join the nearest
)
VOICED_BELOW_PEAK_DB = 35.0  # a 10 ms frame this far under the stretch's loud frames is silence
NOISE_FLOOR_MARGIN_DB = 6.0  # ... and so is one less than this over its quietest tenth
BATCH = 64  # windows through the encoder at once


@dataclass(frozen=True)
class SpeakerTurn:
    speaker: str
    start_s: float
    end_s: float


class DiarizationSession(Protocol):
    def add(self, speech: Speech) -> None:
        """One stretch of speech, in order (int16, 16 kHz mono)."""
        ...

    def finish(self) -> list[SpeakerTurn]:
        """The turns, in order of start; overlapping where two speak at once (if the engine can tell)."""
        ...

    def centroids(self) -> dict[str, np.ndarray]:
        """After `finish`: each speaker's voice, the mean of its windows' embeddings (unit length),
        by label, for naming it (voices.py); empty when the engine gives none (pyannote)."""
        ...


@dataclass(frozen=True)
class KnownVoice:
    """An enrolled person the recording may hold (voices.py): the voice encoder's embedding of them
    (unit length) and how alike a speaker must be to be named them (their role's threshold)."""

    embedding: np.ndarray
    threshold: float


class Diarizer(Protocol):
    name: str

    def session(self, speakers: int | None = None, voices: Sequence[KnownVoice] = ()) -> DiarizationSession:
        """A new recording's diarization; `speakers`, when the uploader knows it, is how many people
        are heard (the count is then given, not found); `voices`, the enrolled people it may hold."""
        ...


def diarize(
    diarizer: Diarizer,
    stretches: Iterable[Speech],
    *,
    speakers: int | None = None,
    voices: Sequence[KnownVoice] = (),
) -> list[SpeakerTurn]:
    """All the stretches' turns at once (tests, benchmarks)."""
    session = diarizer.session(speakers, voices)
    for speech in stretches:
        session.add(speech)
    return session.finish()


# ---- the embedded engine -------------------------------------------------------------------------


class _EmbeddedSession:
    def __init__(self, speakers: int | None = None, voices: Sequence[KnownVoice] = ()) -> None:
        get_encoder()  # loaded (or FileNotFoundError) before the first stretch
        self._speakers = speakers
        self._voices = tuple(voices)
        self._embeddings: list[np.ndarray] = []  # one (n, 256) block per stretch
        self._centres: list[float] = []  # each window's middle, seconds from the recording's start
        self._stretches: list[int] = []  # each window's stretch, numbered in order
        self._voiced: list[tuple[float, float]] = []  # voiced intervals, seconds
        self._centroids: dict[str, np.ndarray] = {}

    def add(self, speech: Speech) -> None:
        windows = embed_windows(speech)
        self._voiced.extend(windows.voiced)
        if len(windows.embeddings):
            self._stretches.extend([len(self._embeddings)] * len(windows.embeddings))
            self._embeddings.append(windows.embeddings)
            self._centres.extend(windows.centres)

    def finish(self) -> list[SpeakerTurn]:
        if not self._centres:
            return []
        embeddings = np.concatenate(self._embeddings)
        labels = _merged(embeddings, _clusters(embeddings))
        labels = _without_small_speakers(embeddings, labels, min_windows=MIN_SPEAKER_S / STEP_S)
        if self._voices:  # two enrolled people heard in one found voice are two speakers
            labels = _split_by_voices(embeddings, labels, np.array(self._stretches), self._voices)
        if self._speakers:  # told how many: as many as that, from the voices found
            labels = _counted(embeddings, labels, self._speakers)
        turns = _smoothed(_turns(np.array(self._centres), labels, self._voiced))
        names = _first_speech_order(turns)
        # A cluster smoothing left without a turn has no label, and so no centroid.
        self._centroids = {
            names[str(label)]: centre
            for label, centre in _centres_of(embeddings, labels).items()
            if str(label) in names
        }
        self._embeddings, self._centres, self._stretches = [], [], []  # its memory goes with the recording
        return _named(turns, names)

    def centroids(self) -> dict[str, np.ndarray]:
        return dict(self._centroids)


@dataclass(frozen=True)
class Windows:
    """A stretch's voice windows: their embeddings (n, 256), their middles and its voiced runs (s)."""

    embeddings: np.ndarray
    centres: list[float]
    voiced: list[tuple[float, float]]


def embed_windows(speech: Speech) -> Windows:
    """The voice encoder's embedding of each 1.6 s window (every STEP_S) over the stretch's voiced
    frames; a window that is mostly pause is skipped. Shared by diarization and voice enrolment
    (workers/recordings/voices.py), so a speaker's centroid and a profile are the same measure."""
    encoder = get_encoder()
    mels = mel_frames(normalised(speech.samples))
    if not len(mels):
        return Windows(np.zeros((0, EMBEDDING_SIZE), dtype=np.float32), [], [])
    energy = mels.sum(axis=1)
    floor = np.percentile(energy, 10) * 10 ** (NOISE_FLOOR_MARGIN_DB / 10)  # a noisy line's hiss
    voiced = energy > max(np.percentile(energy, 95) * 10 ** (-VOICED_BELOW_PEAK_DB / 10), floor)
    runs = _runs(voiced, speech.start_s)
    step = int(STEP_S * FRAMES_PER_SECOND)
    if len(mels) < WINDOW_FRAMES:  # a short stretch: one window, padded with silence
        mels = np.pad(mels, ((0, WINDOW_FRAMES - len(mels)), (0, 0)))
        voiced = np.pad(voiced, (0, WINDOW_FRAMES - len(voiced)))
    starts = [
        at
        for at in range(0, max(1, len(mels) - WINDOW_FRAMES + step), step)
        if voiced[at : at + WINDOW_FRAMES].mean() >= 0.3  # mostly a pause: no voice to embed
    ]
    starts = [min(at, len(mels) - WINDOW_FRAMES) for at in starts]
    blocks, centres = [], []
    for at in range(0, len(starts), BATCH):
        batch = starts[at : at + BATCH]
        blocks.append(encoder.embed(np.stack([mels[start : start + WINDOW_FRAMES] for start in batch])))
        centres.extend(speech.start_s + (start + WINDOW_FRAMES / 2) / FRAMES_PER_SECOND for start in batch)
    embeddings = np.concatenate(blocks) if blocks else np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
    return Windows(embeddings, centres, runs)


def _runs(flags: np.ndarray, offset_s: float) -> list[tuple[float, float]]:
    """The runs of True in per-frame flags as (start_s, end_s)."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [
        (offset_s + s / FRAMES_PER_SECOND, offset_s + e / FRAMES_PER_SECOND) for s, e in zip(starts, ends)
    ]


def _clusters(embeddings: np.ndarray) -> np.ndarray:
    """A cluster number per window, as many clusters as the windows' distances say; at most
    MAX_CLUSTERED windows are clustered, the others join the cluster whose centre is nearest."""
    from sklearn.cluster import AgglomerativeClustering

    if len(embeddings) == 1:
        return np.zeros(1, dtype=int)
    every = max(1, int(np.ceil(len(embeddings) / MAX_CLUSTERED)))
    sample = embeddings[::every]
    clustering = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=DISTANCE_THRESHOLD
    )
    sampled = clustering.fit_predict(sample)
    if every == 1:
        return sampled
    return _nearest(embeddings, _centres_of(sample, sampled))


def _merged(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The two clusters with the closest centres become one, while those are under MERGE_DISTANCE."""
    labels = labels.copy()
    while True:
        centres = _centres_of(embeddings, labels)
        if len(centres) < 2:
            return labels
        keys = list(centres)
        matrix = np.stack([centres[key] for key in keys])
        distance = 1.0 - matrix @ matrix.T
        np.fill_diagonal(distance, np.inf)
        first, second = np.unravel_index(int(np.argmin(distance)), distance.shape)
        if distance[first, second] >= MERGE_DISTANCE:
            return labels
        labels[labels == keys[second]] = keys[first]


def _split_by_voices(
    embeddings: np.ndarray,
    labels: np.ndarray,
    stretches: np.ndarray,
    voices: Sequence[KnownVoice],
    *,
    seconds: np.ndarray | None = None,
    vote_windows: int = VOICE_VOTE_WINDOWS,
) -> np.ndarray:
    """A found voice in which two or more enrolled people are heard, split between them.

    Each window goes to the enrolled voice most like it, judged over its neighbours in the same
    stretch (VOICE_VOTE_WINDOWS either side: one 1.6 s window is a noisy measure of a voice, and a
    person speaks for seconds). Within a found voice, the windows of one enrolled person count as
    that person when they are a speaker's worth (MIN_SPEAKER_S) and their mean is as alike as
    naming the speaker after them requires (the role's threshold, voices.py). Where two people
    count, each becomes a speaker; the other windows stay where they were.

    Why: on a narrow-band line two voices can sit closer than MERGE_DISTANCE and be found as one
    (issue 53), and someone searching office hours for what the lecturer said must not find the
    student's words under the lecturer's name. The enrolled voices tell what the distance cannot;
    a found voice that holds one enrolled person, or none, is left as it is.

    `seconds` is each embedding's speech (STEP_S a window unless given), `vote_windows` how many
    neighbours either side vote (the overlap-aware engine's embeddings are seconds long: none)."""
    seconds = np.full(len(embeddings), STEP_S) if seconds is None else seconds
    matrix = np.stack([voice.embedding for voice in voices])
    likeness = embeddings @ matrix.T  # (windows, voices)
    voted = np.empty_like(likeness)
    for index in range(len(likeness)):
        near = slice(max(0, index - vote_windows), index + vote_windows + 1)
        same = stretches[near] == stretches[index]
        voted[index] = likeness[near][same].mean(axis=0)
    nearest = np.argmax(voted, axis=1)
    labels = labels.copy()
    next_label = int(labels.max()) + 1
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        people = [
            chosen
            for person, voice in enumerate(voices)
            if float(seconds[chosen := members[nearest[members] == person]].sum()) >= MIN_SPEAKER_S - 1e-9
            and float(_unit(embeddings[chosen].mean(axis=0)) @ voice.embedding) >= voice.threshold
        ]
        for chosen in people[1:]:
            labels[chosen] = next_label
            next_label += 1
    return labels


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-9)


def _counted(embeddings: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """The voices found brought to the `count` speakers the uploader named: while too many, the two
    closest merged; while too few, the widest split in two (k-means on its windows: average linkage
    cut to a count leaves a stray window as a "speaker", DER 0.53 on a meeting otherwise diarized at
    0.17)."""
    labels = labels.copy()
    while len(np.unique(labels)) > count:
        centres = _centres_of(embeddings, labels)
        keys = list(centres)
        matrix = np.stack([centres[key] for key in keys])
        distance = 1.0 - matrix @ matrix.T
        np.fill_diagonal(distance, np.inf)
        first, second = np.unravel_index(int(np.argmin(distance)), distance.shape)
        labels[labels == keys[second]] = keys[first]
    while len(np.unique(labels)) < count:
        widest = max(np.unique(labels), key=lambda label: _spread(embeddings[labels == label]))
        chosen = np.flatnonzero(labels == widest)
        if len(chosen) < 2:
            break
        halves = _two_means(embeddings[chosen])
        labels[chosen[halves == 1]] = int(labels.max()) + 1
    return labels


def _spread(embeddings: np.ndarray) -> float:
    """How far a cluster's windows sit from its centre, in all (cosine distance summed)."""
    centre = embeddings.mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-9)
    return float(np.sum(1.0 - embeddings @ centre))


def _two_means(embeddings: np.ndarray) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=2, n_init=10, random_state=0).fit_predict(embeddings)


def _centres_of(embeddings: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    centres = {}
    for label in np.unique(labels):
        mean = embeddings[labels == label].mean(axis=0)
        centres[int(label)] = mean / max(float(np.linalg.norm(mean)), 1e-9)
    return centres


def _nearest(embeddings: np.ndarray, centres: dict[int, np.ndarray]) -> np.ndarray:
    keys = list(centres)
    scores = embeddings @ np.stack([centres[key] for key in keys]).T
    return np.array(keys)[np.argmax(scores, axis=1)]


def _without_small_speakers(embeddings: np.ndarray, labels: np.ndarray, *, min_windows: float) -> np.ndarray:
    """Clusters with fewer windows than a speaker needs are dissolved into the nearest others."""
    counts = {int(label): int((labels == label).sum()) for label in np.unique(labels)}
    kept = {label for label, count in counts.items() if count >= min_windows}
    if not kept:
        kept = {max(counts, key=lambda label: counts[label])}
    if len(kept) == len(counts):
        return labels
    centres = {label: centre for label, centre in _centres_of(embeddings, labels).items() if label in kept}
    small = ~np.isin(labels, list(kept))
    labels = labels.copy()
    labels[small] = _nearest(embeddings[small], centres)
    return labels


def _turns(centres: np.ndarray, labels: np.ndarray, voiced: list[tuple[float, float]]) -> list[SpeakerTurn]:
    """Each TICK_S of voiced audio goes to the speaker its windows within reach vote for (the
    nearer a window's middle, the larger its vote); consecutive ticks of one speaker make a turn."""
    speakers = sorted({int(label) for label in labels})
    reach = WINDOW_FRAMES / FRAMES_PER_SECOND / 2
    turns: list[SpeakerTurn] = []
    for start, end in voiced:
        ticks = np.arange(start, end, TICK_S) + TICK_S / 2
        if not len(ticks):
            continue
        lo = np.searchsorted(centres, ticks[0] - reach)
        hi = np.searchsorted(centres, ticks[-1] + reach)
        if lo == hi:  # no window near: the nearest one decides
            nearest = int(np.argmin(np.abs(centres - (start + end) / 2)))
            turns.append(SpeakerTurn(str(labels[nearest]), start, end))
            continue
        near, near_labels = centres[lo:hi], labels[lo:hi]
        weight = np.maximum(0.0, reach - np.abs(ticks[:, None] - near[None, :]))  # (ticks, windows)
        votes = np.stack([(weight * (near_labels == speaker)).sum(axis=1) for speaker in speakers], axis=1)
        if not votes.any():
            nearest = int(np.argmin(np.abs(near - (start + end) / 2)))
            votes[:, speakers.index(int(near_labels[nearest]))] = 1.0
        chosen = np.array(speakers)[np.argmax(votes, axis=1)]
        run_start = 0
        for index in range(1, len(ticks) + 1):
            if index == len(ticks) or chosen[index] != chosen[run_start]:
                turn_start = start + run_start * TICK_S
                turn_end = min(end, start + index * TICK_S)
                turns.append(SpeakerTurn(str(chosen[run_start]), turn_start, turn_end))
                run_start = index
    return turns


def _joined(turns: list[SpeakerTurn]) -> list[SpeakerTurn]:
    joined: list[SpeakerTurn] = []
    for turn in turns:
        last = joined[-1] if joined else None
        if last and last.speaker == turn.speaker and turn.start_s - last.end_s < JOIN_GAP_S:
            joined[-1] = SpeakerTurn(last.speaker, last.start_s, max(last.end_s, turn.end_s))
        else:
            joined.append(turn)
    return joined


def _smoothed(turns: list[SpeakerTurn]) -> list[SpeakerTurn]:
    """One speaker's turns close together joined; a short turn between others given to them (the
    longer neighbour when they differ), shortest first, until none is left."""
    turns = _joined(turns)
    while True:
        short = [
            index
            for index, turn in enumerate(turns)
            if turn.end_s - turn.start_s < MIN_TURN_S and len(turns) > 1
        ]
        if not short:
            return turns
        index = min(short, key=lambda i: turns[i].end_s - turns[i].start_s)
        turn = turns[index]
        neighbours = [turns[i] for i in (index - 1, index + 1) if 0 <= i < len(turns)]
        taker = max(neighbours, key=lambda other: other.end_s - other.start_s)
        turns[index] = SpeakerTurn(taker.speaker, turn.start_s, turn.end_s)
        merged = _joined(turns)
        if len(merged) == len(turns):  # nothing joined (gaps too long): keep it as its own turn
            return turns
        turns = merged


def _first_speech_order(turns: list[SpeakerTurn]) -> dict[str, str]:
    """The engine's speaker names to S1, S2, ... in order of first speech."""
    names: dict[str, str] = {}
    for turn in sorted(turns, key=lambda turn: turn.start_s):
        names.setdefault(turn.speaker, f"S{len(names) + 1}")
    return names


def _named(turns: list[SpeakerTurn], names: dict[str, str] | None = None) -> list[SpeakerTurn]:
    """Cluster numbers as S1, S2, ... in order of first speech, times rounded to milliseconds."""
    names = names if names is not None else _first_speech_order(turns)
    return [
        SpeakerTurn(names[turn.speaker], round(float(turn.start_s), 3), round(float(turn.end_s), 3))
        for turn in sorted(turns, key=lambda turn: (turn.start_s, turn.end_s))
    ]


class ResemblyzerDiarizer:
    name = "resemblyzer"

    def session(self, speakers: int | None = None, voices: Sequence[KnownVoice] = ()) -> DiarizationSession:
        return _EmbeddedSession(speakers, voices)


# ---- production: pyannote.audio ------------------------------------------------------------------


class _PyannoteSession:
    """The stretches written at their times into a temporary 16 kHz WAV (silence between them):
    pyannote's pipeline reads a file in chunks, so memory stays bounded; the disk holds 115 MB an hour."""

    def __init__(self, pipeline: object, lock: threading.Lock, speakers: int | None = None) -> None:
        self._pipeline = pipeline
        self._lock = lock
        self._options = {"num_speakers": speakers} if speakers else {}
        handle, self._path = tempfile.mkstemp(suffix=".wav", prefix="mentorq-diarize-")
        os.close(handle)
        self._writer = wave.open(self._path, "wb")
        self._writer.setnchannels(1)
        self._writer.setsampwidth(2)
        self._writer.setframerate(SAMPLE_RATE)
        self._written = 0
        self._heard = False

    def add(self, speech: Speech) -> None:
        at = int(round(speech.start_s * SAMPLE_RATE))
        if at > self._written:
            self._writer.writeframes(np.zeros(at - self._written, dtype=np.int16).tobytes())
            self._written = at
        samples = speech.samples[max(0, self._written - at) :].astype(np.int16)
        self._writer.writeframes(samples.tobytes())
        self._written += len(samples)
        self._heard = self._heard or len(samples) > 0

    def finish(self) -> list[SpeakerTurn]:
        self._writer.close()
        try:
            if not self._heard:
                return []
            with self._lock:
                output = self._pipeline(self._path, **self._options)  # type: ignore[operator]
            annotation = getattr(output, "speaker_diarization", output)  # 4.x wraps it
            turns = [
                SpeakerTurn(str(label), float(segment.start), float(segment.end))
                for segment, _, label in annotation.itertracks(yield_label=True)
            ]
            return _named(turns)
        finally:
            os.unlink(self._path)

    def centroids(self) -> dict[str, np.ndarray]:
        # pyannote's own speaker embeddings are another model's: enrolled voices cannot be matched.
        return {}


class PyannoteDiarizer:
    name = "pyannote"

    def __init__(self, settings: Settings) -> None:
        from pyannote.audio import Pipeline

        self._pipeline = Pipeline.from_pretrained(_pyannote_config(settings.diarization_model))
        device = resolve_device(settings.diarization_device or settings.device)
        if device != "cpu":
            import torch

            self._pipeline.to(torch.device(device))
        self._lock = threading.Lock()

    def session(self, speakers: int | None = None, voices: Sequence[KnownVoice] = ()) -> DiarizationSession:
        # pyannote embeds voices with a model of its own: the enrolled voices are not its kind.
        return _PyannoteSession(self._pipeline, self._lock, speakers)


def _pyannote_config(model: str) -> str:
    return model if model.endswith((".yaml", ".yml")) else os.path.join(model, "config.yaml")


def diarizer_problem(settings: Settings) -> str | None:
    """Why the configured diarizer cannot run on this host, or None (for /readyz and the console)."""
    if settings.diarization_engine == "off":
        return None
    if settings.diarization_engine == "campplus":
        from workers.recordings.speaker_models import SpeakerModelsUnavailable, verify_weights

        try:
            verify_weights()
        except SpeakerModelsUnavailable as error:
            return str(error)
        return None
    if settings.diarization_engine == "resemblyzer":
        if weights_path() is None:
            return "resemblyzer is not installed on this host (pip install --no-deps resemblyzer==0.1.4)"
        return None
    if not settings.diarization_model:
        return "MENTORQ_DIARIZATION_MODEL is not set: pyannote's pipeline is loaded from a local folder only"
    config = _pyannote_config(settings.diarization_model)
    if not os.path.isfile(config):
        return f"the pyannote pipeline {config} is not on this host (its weights are never downloaded)"
    try:
        import pyannote.audio  # noqa: F401
    except ImportError:
        return "pyannote.audio is not installed on this host (pip install .[pyannote])"
    return None


_loaded: dict[tuple[str, ...], Diarizer] = {}
_loading = threading.Lock()


def get_diarizer(settings: Settings) -> Diarizer:
    """The configured diarizer, loaded once per process (and again if its settings change)."""
    key = (
        settings.diarization_engine,
        settings.diarization_model,
        settings.diarization_device or settings.device,
    )
    with _loading:
        if key not in _loaded:
            if settings.diarization_engine == "campplus":
                from workers.recordings.overlap_diarizer import CamppDiarizer

                _loaded[key] = CamppDiarizer()
            else:
                _loaded[key] = (
                    PyannoteDiarizer(settings)
                    if settings.diarization_engine == "pyannote"
                    else ResemblyzerDiarizer()
                )
        return _loaded[key]
