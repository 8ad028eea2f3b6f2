"""Who speaks when: the diarization error rate of the embedded diarizers (`--engine`: `campplus`, the
default since issue 60, workers/recordings/overlap_diarizer.py; `resemblyzer`, Resemblyzer's encoder
and agglomerative clustering, workers/recordings/diarization.py; `both` in one run) on real
meeting recordings and on generated conversations, what diarizing adds to recognition's time in
the same run, and (--hour) the diarizer's memory over an hour of speech against ten minutes.

    .venv/bin/pip install -e ".[bench]"        # pyannote.metrics
    .venv/bin/python -m benchmarks.diarization [--seeds 2] [--lines 10]   # ~8 min
    .venv/bin/python -m benchmarks.diarization --real-only --engine both  # ~10 min
    .venv/bin/python -m benchmarks.diarization --real-only --hour         # + ~11 min (memory)
    .venv/bin/python -m benchmarks.diarization --far-field --engine campplus  # ~4 min, only that

No stack is needed: the recordings go through the pipeline's own stages in this process (Silero
VAD's stretches, then the diarizer's session; the default recognizer, Whisper tiny.en, on the same
stretches for the time).

Real recordings (tests/recordings/real_conversations.py; sources and licences in
tests/recordings/data/NOTICE.md): three excerpts of AMI meetings (CC BY 4.0) that pyannote.audio
(MIT) keeps with their reference turns as RTTM: two of 30 s with two men (headset mix), one of
60 s with four people, one of whom only says "mm, yeah" (1.2 s in all: under the diarizer's
MIN_SPEAKER_S, so the speaker count is judged on the others). The table gives each reference
speaker's seconds under each found label, to show where confusion comes from.

Generated conversations (tests/recordings/conversations.py): lines of a tutoring dialogue spoken by
espeak-ng (Debian's `espeak-ng`) in four voices apart in sex, pitch and accent, the speakers
taking one or two lines a turn, 0.24-0.56 s between lines; the reference turns are where each
voice is heard. Each clean, and as on a telephone line (300-3400 Hz at 8 kHz, white noise at
20 dB SNR).

DER with pyannote.metrics (missed speech + false alarm + confusion over the reference's speech)
with a collar of 0.25 s on either side of each reference boundary (NIST's md-eval `-c 0.25`;
pyannote's `collar=0.5`, its total width), overlaps scored (the embedded diarizer gives one
speaker at a time, so overlapped speech counts as missed for the second voice).

Memory (--hour): the real 60 s meeting repeated for 10 and then 60 minutes, decoded 0.1 s at a time
into the VAD and the diarizer's session as the transcribe stage streams it (the hour's samples are
never held at once), each length in a fresh process: resident memory sampled every 50 ms (peak
over the process's RSS once the models are loaded) and the session's kept state before `finish`.

Far-field (--far-field, only that): the development recordings (the three AMI headset-mix excerpts and
the call's first window) as recorded and through two simulated rooms (`distant()` in
tests/recordings/conversations.py: RT60 0.5 s with the direct sound 3 dB over the reverberation and
noise at 20 dB SNR; RT60 0.8 s, 0 dB, 15 dB), each diarized from the VAD's stretches as the
platform does and from the whole audio (the VAD bypassed), with the share of the reference's speech
outside the VAD's stretches: which of speech detection and clustering a distant microphone breaks.
The only far-field real recording (AMI EN2002a) is held out; these rooms are development material.

Aims (issue 44): DER <= 0.20 on clean two-speaker audio, <= 0.30 on telephone quality;
recognition plus diarization <= 1.3x recognition alone; the worker's memory bounded on an hour.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import warnings
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from benchmarks._harness import argument_parser, begin_run, fmt, print_table, verdict, write_results
from tests.recordings import conversations
from tests.recordings.conversations import distant
from tests.recordings.footprint import session_bytes, window_count
from tests.recordings.real_conversations import enrolled_call_voices, more_recordings, recordings
from workers.recordings.diarization import (
    MAX_CLUSTERED,
    Diarizer,
    KnownVoice,
    ResemblyzerDiarizer,
    SpeakerTurn,
    diarize,
)
from workers.recordings.engines import SpeechEngine, get_engine
from workers.recordings.overlap_diarizer import CamppDiarizer
from workers.recordings.speaker_models import one_thread_per_recording
from workers.recordings.speech import Speech, speech_segments

# The engine the figures are of (--engine): today's Resemblyzer one or the overlap-aware CAM++ one.
ENGINES: dict[str, Diarizer] = {"resemblyzer": ResemblyzerDiarizer(), "campplus": CamppDiarizer()}
DIARIZER: Diarizer = ENGINES["resemblyzer"]

COLLAR_S = 0.25  # either side of a reference boundary
REAL_AIM_DER = 0.25  # issue 53: on every real recording, with the speaker count right
CASES: list[tuple[str, list[str]]] = [
    ("two voices", ["ann", "bob"]),
    ("two voices", ["cal", "dee"]),
    ("three voices", ["ann", "bob", "cal"]),
    ("four voices", ["ann", "bob", "cal", "dee"]),
]


def der(reference: list[conversations.Turn], found: list[SpeakerTurn]) -> dict[str, float]:
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    warnings.filterwarnings("ignore", message="'uem' was approximated")
    truth, hypothesis = Annotation(), Annotation()
    for index, turn in enumerate(reference):
        truth[Segment(turn.start_s, turn.end_s), index] = turn.speaker
    for index, turn in enumerate(found):
        hypothesis[Segment(turn.start_s, turn.end_s), index] = turn.speaker
    metric = DiarizationErrorRate(collar=2 * COLLAR_S, skip_overlap=False)
    parts = metric(truth, hypothesis, detailed=True)
    total = parts["total"] or 1.0
    return {
        "der": parts["diarization error rate"],
        "missed": parts["missed detection"] / total,
        "false_alarm": parts["false alarm"] / total,
        "confusion": parts["confusion"] / total,
    }


def measure(samples: np.ndarray, engine: SpeechEngine | None) -> dict[str, Any]:
    """The stretches (VAD), then recognition of each (unless no engine) and the diarizer's session
    on each, timed apart (wall clock, and this process's CPU seconds for diarizing)."""
    started = time.perf_counter()
    stretches = list(speech_segments(samples[at : at + 1600] for at in range(0, len(samples), 1600)))
    vad_s = time.perf_counter() - started
    started = time.perf_counter()
    for speech in stretches if engine else []:
        engine.recognize(speech.samples)
    recognition_s = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    session = DIARIZER.session()
    for speech in stretches:
        session.add(speech)
    turns = session.finish()
    diarization_s, diarization_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    return {
        "turns": turns,
        "vad_s": vad_s,
        "recognition_s": recognition_s,
        "diarization_s": diarization_s,
        "diarization_cpu_s": diarization_cpu_s,
    }


def told_count(samples: np.ndarray, count: int) -> list[SpeakerTurn]:
    """The same recording diarized with its number of speakers given, as an uploader may give it."""
    stretches = list(speech_segments(samples[at : at + 1600] for at in range(0, len(samples), 1600)))
    return diarize(DIARIZER, stretches, speakers=count)


def seconds_by_label(
    reference: list[conversations.Turn], found: list[SpeakerTurn]
) -> dict[str, dict[str, float]]:
    """Each reference speaker's seconds of speech under each found label (their turns' overlap)."""
    table: dict[str, dict[str, float]] = {}
    for truth in reference:
        row = table.setdefault(truth.speaker, {})
        for turn in found:
            overlap = min(truth.end_s, turn.end_s) - max(truth.start_s, turn.start_s)
            if overlap > 0:
                row[turn.speaker] = row.get(turn.speaker, 0.0) + overlap
    return table


def with_voices(samples: np.ndarray, voices: list[KnownVoice]) -> list[SpeakerTurn]:
    """The same recording diarized with the people it may hold enrolled, as a course enrols them."""
    stretches = list(speech_segments(samples[at : at + 1600] for at in range(0, len(samples), 1600)))
    return diarize(DIARIZER, stretches, voices=voices)


def real(engine: SpeechEngine) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """The kept real recordings: DER, speakers found, where each reference speaker went, times;
    and for the calls, the same with their two people enrolled."""
    results = []
    totals = {
        "audio_s": 0.0,
        "vad_s": 0.0,
        "recognition_s": 0.0,
        "diarization_s": 0.0,
        "diarization_cpu_s": 0.0,
    }
    for recording in (*recordings(), *more_recordings()):
        samples, reference = recording.samples(), recording.turns()
        timed = measure(samples, engine)
        told = told_count(samples, len(recording.main_speakers()))
        enrolled = (  # enrolled voices are Resemblyzer's: only that engine is given them
            with_voices(samples, enrolled_call_voices(telephone=recording.telephone))
            if recording.kind == "call" and DIARIZER.name == "resemblyzer"
            else None
        )
        totals["audio_s"] += len(samples) / conversations.SAMPLE_RATE
        for key in ("vad_s", "recognition_s", "diarization_s", "diarization_cpu_s"):
            totals[key] += timed[key]
        results.append(
            {
                "recording": recording.name,
                "what": recording.what,
                "kind": recording.kind + (", telephone band" if recording.telephone else ""),
                "held_out": recording.held_out,
                "told_der": der(reference, told)["der"],
                "told_speakers": len({turn.speaker for turn in told}),
                "enrolled_der": der(reference, enrolled)["der"] if enrolled is not None else None,
                "enrolled_speakers": len({turn.speaker for turn in enrolled})
                if enrolled is not None
                else None,
                "duration_s": len(samples) / conversations.SAMPLE_RATE,
                "reference_speakers": recording.speakers(),
                "main_speakers": recording.main_speakers(),
                "speakers_found": len({turn.speaker for turn in timed["turns"]}),
                **der(reference, timed["turns"]),
                "seconds_by_label": seconds_by_label(reference, timed["turns"]),
                **{key: timed[key] for key in ("vad_s", "recognition_s", "diarization_s")},
            }
        )
        print(f"  real {recording.name}: DER {results[-1]['der']:.3f}", flush=True)
    return results, totals


ROOMS: list[tuple[str, dict[str, float] | None]] = [
    ("as recorded", None),
    ("room RT60 0.5 s, DRR 3 dB, SNR 20 dB", {"rt60_s": 0.5, "direct_to_reverberant_db": 3, "snr_db": 20}),
    ("room RT60 0.8 s, DRR 0 dB, SNR 15 dB", {"rt60_s": 0.8, "direct_to_reverberant_db": 0, "snr_db": 15}),
]


def far_field() -> list[dict[str, Any]]:
    """The development recordings through the simulated rooms, diarized after the VAD (as the
    platform does) and with the VAD bypassed (the diarizer given every 30 s of the audio)."""
    development = [r for r in (*recordings(), *more_recordings()) if not r.held_out and not r.telephone]
    results = []
    for recording in development:
        recorded, reference = recording.samples(), recording.turns()
        speech_s = sum(turn.end_s - turn.start_s for turn in reference)
        for room, acoustics in ROOMS:
            seed = zlib.crc32(recording.name.encode())
            samples = recorded if acoustics is None else distant(recorded, seed=seed, **acoustics)
            stretches = list(speech_segments(samples[at : at + 1600] for at in range(0, len(samples), 1600)))
            heard = sum(
                max(0.0, min(turn.end_s, speech.end_s) - max(turn.start_s, speech.start_s))
                for turn in reference
                for speech in stretches
            )
            rate, window = conversations.SAMPLE_RATE, 30 * conversations.SAMPLE_RATE
            everything = [
                Speech(at / rate, min(len(samples), at + window) / rate, samples[at : at + window])
                for at in range(0, len(samples), window)
            ]
            row: dict[str, Any] = {
                "recording": recording.name,
                "room": room,
                "main_speakers": len(recording.main_speakers()),
                "vad_missed": 1 - heard / speech_s,
            }
            for how, pieces in (("after_vad", stretches), ("whole_audio", everything)):
                turns = diarize(DIARIZER, pieces)
                row[how] = {"found": len({turn.speaker for turn in turns}), **der(reference, turns)}
            results.append(row)
            print(f"  {recording.name}, {room}: DER {row['after_vad']['der']:.3f}", flush=True)
    return results


def print_far_field(results: list[dict[str, Any]]) -> None:
    def cells(figures: dict[str, Any], main: int) -> list[str]:
        return [
            f"{figures['found']}/{main}",
            fmt(figures["der"], 3),
            " / ".join(fmt(figures[part], 3) for part in ("missed", "false_alarm", "confusion")),
        ]

    print_table(
        [
            "recording",
            "room",
            "speech outside the VAD's stretches",
            "after the VAD: found",
            "DER",
            "missed / false alarm / confusion",
            "whole audio: found",
            "DER",
            "missed / false alarm / confusion",
        ],
        [
            [r["recording"], r["room"], fmt(r["vad_missed"], 3)]
            + cells(r["after_vad"], r["main_speakers"])
            + cells(r["whole_audio"], r["main_speakers"])
            for r in results
        ],
        title=f"development recordings through simulated rooms ({DIARIZER.name}), collar {COLLAR_S} s",
    )
    for room, _ in ROOMS:
        rows = [r for r in results if r["room"] == room]
        for how in ("after_vad", "whole_audio"):
            print(
                f"  {room}, {how.replace('_', ' ')}: mean DER "
                f"{np.mean([r[how]['der'] for r in rows]):.3f}, count right on "
                f"{sum(r[how]['found'] == r['main_speakers'] for r in rows)} of {len(rows)}"
            )


def print_real(results: list[dict[str, Any]]) -> None:
    rows = [
        [
            r["recording"],
            r["kind"],
            "held out" if r["held_out"] else "development",
            fmt(r["duration_s"]),
            f"{r['speakers_found']}/{len(r['main_speakers'])} ({len(r['reference_speakers'])})",
            fmt(r["der"], 3),
            fmt(r["missed"], 3),
            fmt(r["false_alarm"], 3),
            fmt(r["confusion"], 3),
            f"{fmt(r['told_der'], 3)} ({r['told_speakers']})",
            f"{fmt(r['enrolled_der'], 3)} ({r['enrolled_speakers']})"
            if r["enrolled_der"] is not None
            else "-",
            verdict(r["speakers_found"] == len(r["main_speakers"]) and r["der"] <= REAL_AIM_DER),
        ]
        for r in results
    ]
    print_table(
        [
            "recording",
            "kind",
            "",
            "audio s",
            "speakers found/main (all)",
            "DER",
            "missed",
            "false alarm",
            "confusion",
            "told the count: DER (found)",
            "people enrolled: DER (found)",
            f"aim: count right, DER <= {REAL_AIM_DER}",
        ],
        rows,
        title=f"real recordings, DER, collar {COLLAR_S} s either side (tests/recordings/data/NOTICE.md)",
    )
    for r in results:
        for speaker, row in sorted(r["seconds_by_label"].items()):
            heard = ", ".join(f"{label} {seconds:.1f}" for label, seconds in sorted(row.items())) or "nothing"
            print(f"  {r['recording']} {speaker} ({r['reference_speakers'][speaker]:.1f} s): {heard}")
    two = [r["der"] for r in results if len(r["main_speakers"]) == 2 and r["kind"] == "meeting"]
    if two:
        mean = float(np.mean(two))
        print(f"real two-speaker meetings, mean DER {mean:.3f} (aim <= 0.20: {verdict(mean <= 0.20)})")
    for kind in sorted({r["kind"] for r in results}):
        held = [r for r in results if r["kind"] == kind and r["held_out"]]
        if held:
            right = sum(r["speakers_found"] == len(r["main_speakers"]) for r in held)
            enrolled = [r for r in held if r["enrolled_der"] is not None]
            with_people = (
                f"; its people enrolled: mean DER {np.mean([r['enrolled_der'] for r in enrolled]):.3f}, "
                f"count right on {sum(r['enrolled_speakers'] == len(r['main_speakers']) for r in enrolled)}"
                if enrolled
                else ""
            )
            print(
                f"held out, {kind}: mean DER {np.mean([r['der'] for r in held]):.3f} "
                f"(told the count {np.mean([r['told_der'] for r in held]):.3f}); "
                f"speaker count right on {right} of {len(held)}{with_people}"
            )


SINGLE_VOICES = (
    "tests/recordings/data/jfk-inaugural-1961.flac",
    "tests/recordings/data/librivox-sense-and-sensibility-01-0870.flac",
    "tests/recordings/data/librivox-sense-and-sensibility-01-0930.flac",
    "samples/knowledge/lecture-testing-effect.ogg",
)


def single_voices() -> list[tuple[str, int]]:
    """The one-voice recordings (real clips, the bundled lecture) and how many speakers were found."""
    from pathlib import Path

    from workers.recordings.decode import pcm_pieces

    found = []
    for path in SINGLE_VOICES:
        samples = np.concatenate(list(pcm_pieces(Path(path).read_bytes(), max_seconds=600)))
        stretches = speech_segments(samples[at : at + 1600] for at in range(0, len(samples), 1600))
        found.append((Path(path).name, len({turn.speaker for turn in diarize(DIARIZER, stretches)})))
    return found


def print_single_voices(found: list[tuple[str, int]]) -> None:
    for name, speakers in found:
        print(f"  one voice, {name}: {speakers} speaker(s) found ({verdict(speakers == 1)})")


def generated(args: Any, engine: SpeechEngine) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """The espeak conversations, clean and as on a telephone line, with their table and summary."""
    rows, results = [], []
    totals = {
        "audio_s": 0.0,
        "vad_s": 0.0,
        "recognition_s": 0.0,
        "diarization_s": 0.0,
        "diarization_cpu_s": 0.0,
    }
    for condition in ("clean", "telephone"):
        for label, speakers in CASES:
            for seed in range(args.seeds):
                talk = conversations.dialogue(speakers, args.lines, seed=seed)
                samples = (
                    talk.samples if condition == "clean" else conversations.telephone(talk.samples, seed=seed)
                )
                # Recognition is timed on the clean audio only (PocketSphinx's slowness on espeak's
                # voices made it most of the run); the ratio compares the same conversations.
                timed = measure(samples, engine if condition == "clean" else None)
                scores = der(talk.turns, timed["turns"])
                found = len({turn.speaker for turn in timed["turns"]})
                voices = sorted({turn.speaker for turn in talk.turns})  # those who got a line
                if condition == "clean":
                    totals["audio_s"] += talk.duration_s
                    for key in ("vad_s", "recognition_s", "diarization_s", "diarization_cpu_s"):
                        totals[key] += timed[key]
                results.append(
                    {
                        "condition": condition,
                        "case": label,
                        "voices": voices,
                        "seed": seed,
                        "duration_s": talk.duration_s,
                        "speakers_found": found,
                        **scores,
                        **{key: timed[key] for key in ("vad_s", "recognition_s", "diarization_s")},
                    }
                )
                rows.append(
                    [
                        condition,
                        f"{'+'.join(voices)} #{seed}",
                        fmt(talk.duration_s),
                        f"{found}/{len(voices)}",
                        fmt(scores["der"], 3),
                        fmt(scores["missed"], 3),
                        fmt(scores["false_alarm"], 3),
                        fmt(scores["confusion"], 3),
                    ]
                )
                print(f"  {condition} {'+'.join(speakers)} #{seed}: DER {scores['der']:.3f}", flush=True)
    print_table(
        ["condition", "voices", "audio s", "speakers", "DER", "missed", "false alarm", "confusion"],
        rows,
        title=f"generated conversations (espeak-ng), DER, collar {COLLAR_S} s either side",
    )
    summary = []
    for condition, aim in (("clean", 0.20), ("telephone", 0.30)):
        for case in dict.fromkeys(label for label, _ in CASES):
            ders = [r["der"] for r in results if r["condition"] == condition and r["case"] == case]
            right = sum(
                r["speakers_found"] == len(r["voices"])
                for r in results
                if r["condition"] == condition and r["case"] == case
            )
            mean = float(np.mean(ders))
            aimed = aim if case == "two voices" else None
            summary.append(
                [condition, case, len(ders), fmt(mean, 3), fmt(max(ders), 3), f"{right}/{len(ders)}"]
                + [f"<= {aimed}: {verdict(mean <= aimed)}" if aimed else "-"]
            )
    print_table(["condition", "case", "n", "mean DER", "worst", "count right", "aim"], summary)
    return results, totals


def print_times(label: str, totals: dict[str, float]) -> float:
    """The stages' times over some audio, and recognition plus diarization over recognition alone."""
    print_table(
        ["stage", "seconds", "audio s per s"],
        [
            ["VAD (shared)", fmt(totals["vad_s"]), fmt(totals["audio_s"] / totals["vad_s"])],
            [
                "recognition (the default engine)",
                fmt(totals["recognition_s"]),
                fmt(totals["audio_s"] / totals["recognition_s"]),
            ],
            [
                f"diarization ({DIARIZER.name})",
                fmt(totals["diarization_s"]),
                fmt(totals["audio_s"] / totals["diarization_s"]),
            ],
        ],
        title=f"time over the {label}' {totals['audio_s']:.0f} s of audio",
    )
    ratio = (totals["recognition_s"] + totals["diarization_s"]) / totals["recognition_s"]
    print(
        f"{label}: recognition + diarization = {ratio:.2f}x recognition alone "
        f"(aim <= 1.5x: {verdict(ratio <= 1.5)}); diarization "
        f"{totals['diarization_cpu_s'] / totals['audio_s'] * 60:.1f} CPU s per audio minute"
    )
    return ratio


# ---- memory over an hour -------------------------------------------------------------------------

PIECE = 1600  # samples decoded at a time (0.1 s), as the transcribe stage reads a file


def looped(samples: np.ndarray, minutes: float) -> Iterator[np.ndarray]:
    """`samples` over and over for `minutes`, 0.1 s at a time: the long recording is never held."""
    left = int(minutes * 60 * conversations.SAMPLE_RATE)
    while left > 0:
        for at in range(0, len(samples), PIECE):
            piece = samples[at : at + min(PIECE, left)]
            yield piece
            left -= len(piece)
            if left <= 0:
                return


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_run(minutes: float) -> dict[str, Any]:
    """In this process: the real meeting looped for `minutes` through the VAD and a diarizer
    session, resident memory sampled every 50 ms; the session's kept state before `finish`."""
    source = recordings()[-1].samples()
    diarize_stretches(speech_segments(looped(source, 0.5)))  # the models loaded: not counted
    baseline, peak, done = rss_bytes(), [rss_bytes()], threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], rss_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    session = DIARIZER.session()
    stretches = 0
    for speech in speech_segments(looped(source, minutes)):
        session.add(speech)
        stretches += 1
    kept, windows = session_bytes(session), window_count(session)
    turns = session.finish()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return {
        "minutes": minutes,
        "stretches": stretches,
        "windows": windows,
        "kept_bytes": kept,
        "baseline_rss": baseline,
        "peak_rss": max(peak[0], rss_bytes()),
        "speakers": len({turn.speaker for turn in turns}),
        "seconds": seconds,
    }


def diarize_stretches(stretches: Iterator[Any]) -> list[SpeakerTurn]:
    session = DIARIZER.session()
    for speech in stretches:
        session.add(speech)
    return session.finish()


def memory_in_fresh_process(minutes: float) -> dict[str, Any]:
    """memory_run in a new Python process (so one length's peak is not another's)."""
    command = [sys.executable, "-m", "benchmarks.diarization", "--memory-run", str(minutes)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_memory(runs: list[dict[str, Any]]) -> None:
    mib = 1024 * 1024
    print_table(
        [
            "audio",
            "stretches",
            "windows",
            "kept by session",
            "per window",
            "RSS before",
            "peak RSS",
            "grew",
            "s",
        ],
        [
            [
                f"{r['minutes']:g} min",
                r["stretches"],
                r["windows"],
                f"{r['kept_bytes'] / mib:.1f} MiB",
                f"{r['kept_bytes'] / max(r['windows'], 1):.0f} B",
                f"{r['baseline_rss'] / mib:.0f} MiB",
                f"{r['peak_rss'] / mib:.0f} MiB",
                f"{(r['peak_rss'] - r['baseline_rss']) / mib:.0f} MiB",
                fmt(r["seconds"], 0),
            ]
            for r in runs
        ],
        title="memory: the real meeting looped, streamed 0.1 s at a time (each length in a fresh process)",
    )
    short, long = runs[0], runs[-1]
    extra = (long["peak_rss"] - long["baseline_rss"]) - (short["peak_rss"] - short["baseline_rss"])
    embeddings = (long["windows"] - short["windows"]) * 256 * 4
    print(
        f"{long['minutes']:g} min over {short['minutes']:g} min: peak grew {extra / mib:.1f} MiB more, "
        f"for {embeddings / mib:.1f} MiB more embeddings (256 float32 a window); the rest is clustering's "
        f"distance matrix, over at most {MAX_CLUSTERED} windows whatever the length"
    )


def main() -> None:
    one_thread_per_recording()  # as the transcribe lane's worker runs (workers/signals.py)
    parser = argument_parser("diarization", __doc__)
    parser.add_argument("--seeds", type=int, default=2, help="conversations per case (different scripts)")
    parser.add_argument("--lines", type=int, default=10, help="lines per conversation")
    parser.add_argument("--real-only", action="store_true", help="the real recordings only, no espeak")
    parser.add_argument("--hour", action="store_true", help="memory over 60 min of speech against 10 min")
    parser.add_argument("--memory-run", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--far-field", action="store_true", help="only: dev recordings in simulated rooms")
    parser.add_argument(
        "--engine",
        choices=[*ENGINES, "both"],
        default="both",
        help="the diarizer measured (both: one after the other)",
    )
    args = parser.parse_args()
    if args.memory_run:
        print(json.dumps(memory_run(args.memory_run)))
        return
    global DIARIZER
    run = begin_run()
    from core.settings import Settings

    engine = get_engine(Settings(MENTORQ_ENV="test"))
    figures: dict[str, Any] = {"machine": run.machine, "collar_s": COLLAR_S, "recognizer": engine.name}
    if args.far_field:
        for name in ENGINES if args.engine == "both" else [args.engine]:
            DIARIZER = ENGINES[name]
            figures[name] = {"far_field": far_field()}
            print_far_field(figures[name]["far_field"])
        path = write_results("diarization_far_field", figures)
        print(f"whole run {run.total.elapsed():.0f} s; figures in {path}")
        return
    for name in ENGINES if args.engine == "both" else [args.engine]:
        DIARIZER = ENGINES[name]
        measure(conversations.dialogue(["ann", "bob"], 2).samples, engine)  # loads the models: not counted
        print(f"== diarizer: {name} ==")
        real_results, real_totals = real(engine)
        print_real(real_results)
        print_single_voices(single_voices())
        figures[name] = {"real": real_results, "real_totals": real_totals}
        figures[name]["real_ratio"] = print_times("real meetings", real_totals)
    if not args.real_only:
        figures["results"], figures["totals"] = generated(args, engine)
        figures["ratio"] = print_times("clean generated conversations", figures["totals"])
    if args.hour:
        figures["memory"] = [memory_in_fresh_process(minutes) for minutes in (10, 60)]
        print_memory(figures["memory"])
    path = write_results("diarization", figures)
    print(f"whole run {run.total.elapsed():.0f} s; figures in {path}")


if __name__ == "__main__":
    main()
