"""Who speaks when: the diarization error rate of the embedded diarizer (Resemblyzer's encoder and
agglomerative clustering, workers/recordings/diarization.py) on generated conversations, and what
diarizing adds to recognition's time in the same run.

    .venv/bin/pip install -e ".[bench]"        # pyannote.metrics
    .venv/bin/python -m benchmarks.diarization [--seeds 2] [--lines 10]   # ~8 min

No stack is needed: the recordings go through the pipeline's own stages in this process (Silero
VAD's stretches, then the diarizer's session; PocketSphinx on the same stretches for the time).

Conversations (tests/recordings/conversations.py): lines of a tutoring dialogue spoken by
espeak-ng (Debian's `espeak-ng`) in four voices apart in sex, pitch and accent, the speakers
taking one or two lines a turn, 0.24-0.56 s between lines; the reference turns are where each
voice is heard. Each clean, and as on a telephone line (300-3400 Hz at 8 kHz, white noise at
20 dB SNR). DER with pyannote.metrics (missed speech + false alarm + confusion over the
reference's speech) with a collar of 0.25 s on either side of each reference boundary (NIST's
md-eval `-c 0.25`; pyannote's `collar=0.5`, its total width), overlaps scored. No real
conversation is measured: none with a clear licence was found to keep in the repository.

Aims (issue 44): DER <= 0.20 on clean two-speaker audio, <= 0.30 on telephone quality;
recognition plus diarization <= 1.3x recognition alone.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from benchmarks._harness import argument_parser, begin_run, fmt, print_table, verdict, write_results
from tests.recordings import conversations
from workers.recordings.diarization import ResemblyzerDiarizer, SpeakerTurn
from workers.recordings.engines import PocketSphinxEngine
from workers.recordings.speech import speech_segments

COLLAR_S = 0.25  # either side of a reference boundary
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


def measure(samples: np.ndarray, engine: PocketSphinxEngine | None) -> dict[str, Any]:
    """The stretches (VAD), then recognition of each (unless no engine) and the diarizer's session
    on each, timed apart."""
    started = time.perf_counter()
    stretches = list(speech_segments(samples[at : at + 1600] for at in range(0, len(samples), 1600)))
    vad_s = time.perf_counter() - started
    started = time.perf_counter()
    for speech in stretches if engine else []:
        engine.recognize(speech.samples)
    recognition_s = time.perf_counter() - started
    started = time.perf_counter()
    session = ResemblyzerDiarizer().session()
    for speech in stretches:
        session.add(speech)
    turns = session.finish()
    diarization_s = time.perf_counter() - started
    return {"turns": turns, "vad_s": vad_s, "recognition_s": recognition_s, "diarization_s": diarization_s}


def main() -> None:
    parser = argument_parser("diarization", __doc__)
    parser.add_argument("--seeds", type=int, default=2, help="conversations per case (different scripts)")
    parser.add_argument("--lines", type=int, default=10, help="lines per conversation")
    args = parser.parse_args()
    run = begin_run()
    engine = PocketSphinxEngine()
    measure(conversations.dialogue(["ann", "bob"], 2).samples, engine)  # loads the models: not counted
    rows, results = [], []
    totals = {"audio_s": 0.0, "vad_s": 0.0, "recognition_s": 0.0, "diarization_s": 0.0}
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
                    for key in ("vad_s", "recognition_s", "diarization_s"):
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
        title=f"DER, collar {COLLAR_S} s either side",
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
    ratio = (totals["recognition_s"] + totals["diarization_s"]) / totals["recognition_s"]
    print_table(
        ["stage", "seconds", "audio s per s"],
        [
            ["VAD (shared)", fmt(totals["vad_s"]), fmt(totals["audio_s"] / totals["vad_s"])],
            [
                "recognition (PocketSphinx)",
                fmt(totals["recognition_s"]),
                fmt(totals["audio_s"] / totals["recognition_s"]),
            ],
            [
                "diarization (Resemblyzer)",
                fmt(totals["diarization_s"]),
                fmt(totals["audio_s"] / totals["diarization_s"]),
            ],
        ],
        title=f"time over the clean conversations' {totals['audio_s']:.0f} s of audio",
    )
    print(
        f"recognition + diarization = {ratio:.2f}x recognition alone (aim <= 1.3x: {verdict(ratio <= 1.3)})"
    )
    path = write_results(
        "diarization",
        {"machine": run.machine, "collar_s": COLLAR_S, "results": results, "totals": totals, "ratio": ratio},
    )
    print(f"whole run {run.total.elapsed():.0f} s; figures in {path}")


if __name__ == "__main__":
    main()
