"""The fake Ollama server as a GPU server: N generations at once, the rest wait their turn."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.fake_ollama import FakeOllama

PREFILL_S = 0.2
# Long enough that six requests sent together all arrive within the first round on a loaded machine
# (at 0.2 s a CI run's six trickled in and none waited as long as half a round).
QUEUED_PREFILL_S = 1.0


def chat(url: str, stream: bool) -> dict:
    body = {"model": "llama3.2:1b", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    response = httpx.post(f"{url}/api/chat", json=body, timeout=30)
    response.raise_for_status()
    return {"ok": True}


def test_requests_past_the_slots_wait_for_one_to_free():
    together = threading.Barrier(6)

    def sent_together(i: int) -> dict:
        together.wait(timeout=60)
        return chat(server.url, stream=i % 2 == 0)

    with FakeOllama(slots=2, prefill_delay_s=QUEUED_PREFILL_S, token_delay_s=0.001) as server:
        started = time.monotonic()
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(sent_together, range(6)))
        took = time.monotonic() - started
        assert all(result["ok"] for result in results)
        assert server.peak_running == 2
        waits = sorted(server.waits_s)
        # Six requests on two slots take three rounds of generation, however the clients' threads
        # were scheduled; and the requests past the slots waited for one. (How long each waited
        # depends on when its thread got to send it, so half a round is asked of two of the four.)
        assert len(waits) == 6
        assert took >= 3 * QUEUED_PREFILL_S * 0.95, took
        assert sum(wait >= QUEUED_PREFILL_S * 0.5 for wait in waits) >= 2, waits
        assert server.generated_tokens > 0


def test_without_slots_every_request_runs_at_once():
    with FakeOllama(prefill_delay_s=PREFILL_S) as server:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: chat(server.url, stream=False), range(4)))
        assert all(wait < PREFILL_S for wait in server.waits_s)
