"""The workers alive now, as they announce themselves in Redis (a key per worker that expires when
its heartbeats stop): read by /readyz and by the admin statistics.

An announcement is data from outside this process: a key of the wrong type, JSON that does not
parse, or a value of the wrong shape is skipped with a log line, never an error for the caller
(one malformed key once made /readyz 503 and /v1/admin/stats 500).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from redis.exceptions import ResponseError

from core.channels import WORKER_KEY_PREFIX, worker_key
from core.redis_clients import get_async_broker_redis

log = logging.getLogger(__name__)

MAX_ANNOUNCEMENT_BYTES = 64 * 1024  # a real one is a few hundred bytes
MAX_HOSTNAME_CHARS = 255
MAX_QUEUES = 64
MAX_FIELD_CHARS = 64
# Keys already reported, so a probe every few seconds does not repeat the same line; bounded.
_reported: set[tuple[bytes, str]] = set()
_MAX_REPORTED = 1024


async def live_workers() -> list[dict[str, Any]]:
    """Each live worker's well-formed announcement: hostname, queues, sandbox layers, and a
    transcribe worker's speech engine (with what keeps it from running, if anything)."""
    redis = get_async_broker_redis()  # the workers announce themselves on the broker Redis
    workers = []
    async for key in redis.scan_iter(match=f"{WORKER_KEY_PREFIX}*", count=100):
        try:
            raw = await redis.get(key)
        except ResponseError:  # WRONGTYPE: a hash or a list under a worker's name
            _skip(key, "not a string value")
            continue
        if raw is None:  # expired between SCAN and GET
            continue
        announcement, problem = parse_announcement(key, raw)
        if announcement is None:
            _skip(key, problem)
        else:
            workers.append(announcement)
    return workers


def parse_announcement(key: bytes | str, raw: bytes | str) -> tuple[dict[str, Any] | None, str]:
    """(the announcement, "") when `raw` is a well-formed one stored under its own key, else (None, why)."""
    if len(raw) > MAX_ANNOUNCEMENT_BYTES:
        return None, f"larger than {MAX_ANNOUNCEMENT_BYTES} bytes"
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, "not JSON"
    if not isinstance(value, dict):
        return None, "not a JSON object"
    hostname, queues = value.get("hostname"), value.get("queues", [])
    if not isinstance(hostname, str) or not 0 < len(hostname) <= MAX_HOSTNAME_CHARS:
        return None, "no hostname"
    name = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
    if name != worker_key(hostname):
        return None, "its hostname is not the key's"
    if (
        not isinstance(queues, list)
        or len(queues) > MAX_QUEUES
        or not all(isinstance(q, str) for q in queues)
    ):
        return None, "queues is not a list of names"
    sandbox = value.get("sandbox")
    speech = value.get("speech")
    if not (
        isinstance(speech, dict)
        and isinstance(speech.get("engine"), str)
        and len(speech["engine"]) <= MAX_FIELD_CHARS
        and (speech.get("problem") is None or isinstance(speech["problem"], str))
    ):
        speech = None
    else:  # a model path and a library's message: shown as they are, but bounded
        diarizer, speakers = speech.get("diarizer"), speech.get("diarizer_problem")
        speech = {
            "engine": speech["engine"],
            "problem": (speech.get("problem") or None) and speech["problem"][:500],
            "diarizer": diarizer[:MAX_FIELD_CHARS] if isinstance(diarizer, str) else None,
            "diarizer_problem": speakers[:500] if isinstance(speakers, str) and speakers else None,
        }
    return {
        "hostname": hostname,
        "queues": queues,
        "pid": value.get("pid") if isinstance(value.get("pid"), int) else None,
        "at": value.get("at") if isinstance(value.get("at"), (int, float)) else None,
        "sandbox": sandbox if isinstance(sandbox, dict) else None,
        "speech": speech,
        # Where its torch models run (workers/devices.py): `cpu`, `cuda:0`; None if it runs none.
        "device": device if isinstance(device := value.get("device"), str) and len(device) <= 16 else None,
    }, ""


def _skip(key: bytes | str, why: str) -> None:
    raw_key = key if isinstance(key, bytes) else key.encode()
    if (raw_key, why) in _reported:
        return
    if len(_reported) >= _MAX_REPORTED:
        _reported.clear()
    _reported.add((raw_key, why))
    log.warning("skipped a malformed worker announcement %r: %s", raw_key[:200], why)


def workers_per_queue(workers: list[dict[str, Any]]) -> dict[str, list[str]]:
    """queue -> the hostnames of the workers consuming it."""
    queues: dict[str, list[str]] = {}
    for worker in workers:
        for queue in worker.get("queues", []):
            queues.setdefault(queue, []).append(worker["hostname"])
    return {queue: sorted(hosts) for queue, hosts in sorted(queues.items())}
