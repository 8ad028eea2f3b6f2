"""The suite runs as three pytest processes side by side on two cores (the Makefile's `test`),
each with a platform of its own whose workers run models too. Every library thread pool is one
thread here, set before any of them is imported and inherited by every process a test starts:
torch's and OpenBLAS's idle threads spin while they wait for work, and on cores the other suites
were using, two torch threads made one diarization of a 90 s call 25.7 s of wall clock against
6.7 s on one (3.4 s and 3.6 s on idle cores). What a deployment runs with is its own choice (the
transcribe lane sets one thread itself: workers/recordings/speaker_models.one_thread_per_recording;
the local model's OpenMP threads spin briefly, then sleep, wherever it runs:
workers/llm/local.wait_passively)."""

import os

for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_pool, "1")

from workers.llm.local import wait_passively  # noqa: E402

# As a worker does, for the tests that run the local model in their own process, where another test
# may have loaded torch's libgomp before the model's first load.
wait_passively()
