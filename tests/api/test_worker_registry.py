"""Worker announcements in Redis are outside data: a malformed one is skipped, never a 503 or a 500.

One planted key (not JSON, a hash, a hostname that is not its key's) once made /readyz 503 and
/v1/admin/stats 500 (issue 23)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from api.worker_registry import parse_announcement
from core.channels import worker_key
from tests.conftest import ApiClient
from tests.support.stack import Stack

GOOD = {
    "hostname": "w@h",
    "pid": 7,
    "queues": ["cpu", "transcribe"],
    "at": 1.5,
    "sandbox": {"active": ["rlimits"]},
    "speech": {
        "engine": "faster-whisper",
        "problem": "the model folder lacks model.bin",
        "diarizer": "pyannote",
        "diarizer_problem": "MENTORQ_DIARIZATION_MODEL is not set",
    },
    "device": "cuda:0",
}


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"null", "not a JSON object"),
        (json.dumps({"queues": ["cpu"]}).encode(), "no hostname"),
        (json.dumps({"hostname": ["w@h"], "queues": ["cpu"]}).encode(), "no hostname"),
        (json.dumps({"hostname": "", "queues": ["cpu"]}).encode(), "no hostname"),
        (json.dumps({"hostname": "w@h", "queues": "cpu"}).encode(), "queues is not a list of names"),
        (json.dumps({"hostname": "w@h", "queues": [1]}).encode(), "queues is not a list of names"),
        (json.dumps({"hostname": "other@h", "queues": ["cpu"]}).encode(), "its hostname is not the key's"),
        (json.dumps({**GOOD, "padding": "x" * 70_000}).encode(), "larger than 65536 bytes"),
    ],
)
def test_a_malformed_announcement_is_refused_with_its_reason(raw: bytes, why: str) -> None:
    assert parse_announcement(worker_key("w@h").encode(), raw) == (None, why)


def test_a_well_formed_announcement_is_read_and_odd_extras_are_dropped() -> None:
    announcement, why = parse_announcement(worker_key("w@h").encode(), json.dumps(GOOD).encode())
    assert why == "" and announcement == GOOD
    odd = {
        **GOOD,
        "pid": "7",
        "at": "soon",
        "sandbox": "all of them",
        "speech": "fine",
        "device": 0,
        "extra": 1,
    }
    announcement, _ = parse_announcement(worker_key("w@h"), json.dumps(odd))
    assert announcement == {**GOOD, "pid": None, "at": None, "sandbox": None, "speech": None, "device": None}
    long_device = {**GOOD, "device": "cuda:0 " + "x" * 100}
    assert parse_announcement(worker_key("w@h"), json.dumps(long_device))[0]["device"] is None
    # A speech report is shown as its worker gave it, but bounded, and dropped when malformed.
    for speech, kept in (
        (
            {"engine": "pocketsphinx", "problem": None},
            {"engine": "pocketsphinx", "problem": None, "diarizer": None, "diarizer_problem": None},
        ),
        (
            {"engine": "x", "problem": "p" * 5000, "diarizer": "d" * 100, "diarizer_problem": "q" * 5000},
            {"engine": "x", "problem": "p" * 500, "diarizer": "d" * 64, "diarizer_problem": "q" * 500},
        ),
        (
            {"engine": "x", "problem": None, "diarizer": 3, "diarizer_problem": ["list"]},
            {"engine": "x", "problem": None, "diarizer": None, "diarizer_problem": None},
        ),
        ({"engine": "x" * 65, "problem": None}, None),
        ({"engine": 3, "problem": None}, None),
        ({"engine": "x", "problem": ["list"]}, None),
    ):
        announcement, _ = parse_announcement(worker_key("w@h"), json.dumps({**GOOD, "speech": speech}))
        assert announcement["speech"] == kept, speech


PLANTED = {
    "not-json": b"{not json",
    "a-list": b"[1, 2]",
    "no-hostname": json.dumps({"queues": ["cpu"]}).encode(),
    "bad-queues": json.dumps({"hostname": "bad-queues", "queues": {"cpu": 1}}).encode(),
    "impostor": json.dumps({"hostname": "worker@test", "queues": ["planted"]}).encode(),
}


@pytest.fixture
def planted(stack: Stack) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(stack.redis.url)
    keys = [worker_key(name) for name in [*PLANTED, "a-hash"]]
    for name, value in PLANTED.items():
        client.set(worker_key(name), value, ex=120)
    client.hset(worker_key("a-hash"), "hostname", "a-hash")
    client.expire(worker_key("a-hash"), 120)
    yield client
    client.delete(*keys)


def test_readiness_and_statistics_skip_malformed_worker_keys(
    stack: Stack, admin_client: ApiClient, planted: redis.Redis
) -> None:
    assert admin_client.get("/readyz").status_code == 200
    ready = admin_client.get("/v1/admin/health")
    assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
    workers = ready.json()["checks"]["workers"]
    assert workers["ok"] and "worker@test" in workers["hostnames"]
    assert not {"not-json", "a-list", "no-hostname", "bad-queues", "a-hash"} & set(workers["hostnames"])
    assert "planted" not in workers["queues"]  # the impostor's queue: its key is not its hostname's
    stats = admin_client.get("/v1/admin/stats")
    assert stats.status_code == 200, stats.text
    assert stats.json()["workers"]["count"] == workers["count"]
    assert "planted" not in stats.json()["workers"]["per_queue"]
