"""One profile ingestion end to end on the real local model (llama.cpp, SmolLM2), no fake at all."""

from __future__ import annotations

import pytest

from tasks.profile_ingest.evidence import Source
from tests.conftest import ApiClient
from tests.profiles.support import profile, wait_job
from tests.support.stack import Stack

INTRO = (
    "My name is Tomas. I work as a nurse and I know first aid very well. "
    "I speak Spanish and English. I love gardening and cooking. "
    "My goal is to learn Python programming this year."
)


@pytest.mark.slow
def test_a_profile_ingestion_on_the_local_model(stack: Stack, client: ApiClient):
    # The suite's worker talks to the fake Ollama; this one runs the packaged model in-process.
    stack.stop("worker")
    try:
        stack.start_worker(
            "worker-local", extra_env={"MENTORQ_LLM_PROVIDER": "local", "MENTORQ_LLM_MODEL": ""}
        )
        submitted = client.post("/api/profiles/ingest", json={"text": INTRO})
        assert submitted.status_code == 202, submitted.text
        job = wait_job(client, submitted.json()["id"], timeout=280)
    finally:
        stack.stop("worker-local")
        stack.start_worker()
    assert job["status"] == "succeeded", job["error"]
    output = job["output"]
    assert output["model"] and output["windows"] == 1
    # Whatever a 135M model says, what was kept is in the source: the check ran on real output.
    source = Source(INTRO, min_score=90)
    for item in [s["name"] for s in output["skills"]] + output["interests"] + output["goals"]:
        assert source.text.find(item.casefold()[:4]) >= 0 or source.contains(item), item
    me, etag = profile(client)
    if output["kept"]:
        assert (
            output["saved"] and output["revision"] == 2 and etag == '"2"' and me["skills"] == output["skills"]
        )
    else:  # its quotes are often invented: nothing kept, so nothing changed
        assert not output["saved"] and output["not_saved"]["code"] == "nothing_kept"
        assert output["revision"] == 1 and etag == '"1"' and output["dropped_unsupported"] > 0
    assert output["timings_ms"]["llm"] > 0
