"""The simulated room benchmarks.diarization --far-field puts the development recordings through
(tests/recordings/conversations.distant): it must be the room it says, or its figures say nothing."""

from __future__ import annotations

import numpy as np
import pytest

from tests.recordings.conversations import SAMPLE_RATE, distant

QUIET = 300.0  # dB: noise far below anything measured here


def _click_response(rt60_s: float, direct_to_reverberant_db: float) -> np.ndarray:
    click = np.zeros(2 * SAMPLE_RATE, dtype=np.int16)
    click[0] = 20_000
    heard = distant(click, rt60_s=rt60_s, direct_to_reverberant_db=direct_to_reverberant_db, snr_db=QUIET)
    return heard.astype(np.float64)


@pytest.mark.parametrize(("rt60_s", "drr_db"), [(0.5, 3.0), (0.8, 0.0)])
def test_the_room_holds_the_reverberation_it_names(rt60_s: float, drr_db: float):
    response = _click_response(rt60_s, drr_db)
    direct = response[0] ** 2
    tail = response[1:] ** 2
    assert 10 * np.log10(direct / tail.sum()) == pytest.approx(drr_db, abs=0.3)
    # The tail's energy falls 60 dB in rt60_s: 20 dB in a third of it (Schroeder's integral).
    remaining = np.maximum(np.cumsum(tail[::-1])[::-1], 1e-12)  # int16 rounds the far tail to 0
    decay_db = 10 * np.log10(remaining / remaining[0])
    assert decay_db[int(rt60_s / 3 * SAMPLE_RATE)] == pytest.approx(-20.0, abs=2.0)


def test_speech_keeps_its_loudness_and_the_noise_its_level():
    rng = np.random.default_rng(1)
    speech = (rng.normal(0, 3000, 3 * SAMPLE_RATE)).astype(np.int16)
    clean = distant(speech, rt60_s=0.5, direct_to_reverberant_db=3, snr_db=QUIET).astype(np.float64)
    noisy = distant(speech, rt60_s=0.5, direct_to_reverberant_db=3, snr_db=15).astype(np.float64)
    loudness = np.sqrt(np.mean(speech.astype(np.float64) ** 2))
    assert np.sqrt(np.mean(clean**2)) == pytest.approx(loudness, rel=0.02)
    noise_db = 10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2))
    assert noise_db == pytest.approx(15.0, abs=0.5)
