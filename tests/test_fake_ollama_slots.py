"""The fake Ollama server as a GPU server: N generations at once, the rest wait their turn."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.fake_ollama import FakeOllama

PREFILL_S = 0.2


def chat(url: str, stream: bool) -> dict:
    body = {"model": "llama3.2:1b", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    response = httpx.post(f"{url}/api/chat", json=body, timeout=30)
    response.raise_for_status()
    return {"ok": True}


def test_requests_past_the_slots_wait_for_one_to_free():
    with FakeOllama(slots=2, prefill_delay_s=PREFILL_S, token_delay_s=0.001) as server:
        started = time.monotonic()
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda i: chat(server.url, stream=i % 2 == 0), range(6)))
        took = time.monotonic() - started
        assert all(result["ok"] for result in results)
        assert server.peak_running == 2
        waits = sorted(server.waits_s)
        # Six requests on two slots take three rounds of generation, however the clients' threads
        # were scheduled; and some requests waited for a slot. (How long each waited depends on when
        # its thread got to send it: on a loaded machine they trickle in, and a CI run once saw no
        # wait past one and a half rounds.)
        assert len(waits) == 6
        assert took >= 3 * PREFILL_S * 0.95, took
        assert sum(wait >= PREFILL_S * 0.5 for wait in waits) >= 2, waits
        assert server.generated_tokens > 0


def test_without_slots_every_request_runs_at_once():
    with FakeOllama(prefill_delay_s=PREFILL_S) as server:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: chat(server.url, stream=False), range(4)))
        assert all(wait < PREFILL_S for wait in server.waits_s)
