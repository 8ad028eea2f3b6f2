"""Generate lecture-testing-effect.ogg, the sample recording of the demo corpus: a short lecture
of our own text, spoken by Flite (Debian's `flite` package, voice `rms`) and encoded as Opus in
Ogg, mono, 24 kbit/s (about 70 KB for 23 s).

    apt-get install flite && python samples/knowledge/make_recording.py

Needs PyAV (in the worker extras). Flite's `rms` voice was chosen by ear and by recognizer: of
espeak-ng's voices and Flite's four, it is the one PocketSphinx transcribes best (one word wrong
in the sentence we tried, where espeak-ng's voices lost half of them).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import av

OUTPUT = Path(__file__).with_name("lecture-testing-effect.ogg")
TEXT = (
    "Welcome to the lecture on the testing effect. When you test yourself, you remember more than "
    "when you read your notes again. In one study, students who took a practice test remembered "
    "about half of the material a week later, while students who only reread it remembered much "
    "less. So close your notes, and try to recall the main ideas from memory."
)


def speak(text: str, wav: Path, *, stretch: float = 1.0) -> None:
    """Flite's speech for `text`, as a WAV file (`stretch` > 1 speaks slower)."""
    command = ["flite", "-voice", "rms", "--setf", f"duration_stretch={stretch}", "-t", text, "-o", str(wav)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def encode(
    source: Path, target: Path, *, container: str, codec: str, rate: int, bit_rate: int | None
) -> None:
    """Re-encode `source`'s audio into `target` (mono, `rate` Hz) with FFmpeg's libraries."""
    with av.open(str(source)) as inp, av.open(str(target), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        if bit_rate:
            stream.bit_rate = bit_rate
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=rate)
        for frame in inp.decode(audio=0):
            for piece in resampler.resample(frame):
                out.mux(stream.encode(piece))
        for piece in resampler.resample(None):
            out.mux(stream.encode(piece))
        out.mux(stream.encode(None))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        speak(TEXT, wav)
        encode(wav, OUTPUT, container="ogg", codec="libopus", rate=48_000, bit_rate=24_000)
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
