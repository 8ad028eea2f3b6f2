"""The Learning Record Store as the statement sender sees it (xAPI 1.0.3 / 2.0 communication).

The version: the LRS's `GET about` lists the versions it speaks; 2.0.0 is used where it is listed,
else 1.0.3 (an LRS without `about`, as Ralph, is 1.0.3), learned once per worker process for ten
minutes. A batch is one `POST statements` with a JSON array; the LRS stores each id once, and
one that it has already (the same statement) is no error, so a batch sent again adds nothing.

What an answer means, with stable codes: 200/204 the batch is stored; 400 (422 as Ralph says it,
or 409 for an id it holds with other content) one statement in it is bad, which the caller finds
by halving; 401/403 `xapi_lrs_refused` (our credentials; asking again cannot help); 5xx, 429 or no
answer `xapi_lrs_unavailable`, retried by the job with backoff."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from core.settings import get_settings
from workers.errors import JobFailure

TIMEOUT_S = 30.0
VERSION_TTL_S = 600
_version_cache: dict[str, tuple[float, str]] = {}


@dataclass(frozen=True)
class Posted:
    ok: bool
    status: int
    reason: str  # the LRS's message when it refused the batch


def _endpoint() -> str:
    endpoint = get_settings().xapi_endpoint
    if not endpoint:
        raise JobFailure("xapi_not_configured", "MENTORQ_XAPI_ENDPOINT is not set on this worker")
    return endpoint.rstrip("/") + "/"


def _auth() -> httpx.BasicAuth | None:
    settings = get_settings()
    if not settings.xapi_username:
        return None
    password = settings.xapi_password.get_secret_value() if settings.xapi_password else ""
    return httpx.BasicAuth(settings.xapi_username, password)


def _unavailable(what: str) -> JobFailure:
    return JobFailure("xapi_lrs_unavailable", what, retryable=True)


def version(client: httpx.Client) -> str:
    endpoint = _endpoint()
    cached = _version_cache.get(endpoint)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        response = client.get(endpoint + "about")
    except httpx.HTTPError as error:
        raise _unavailable(f"the LRS did not answer: {error}") from None
    if response.status_code >= 500 or response.status_code == 429:
        raise _unavailable(f"the LRS's about answered {response.status_code}")
    versions: list[Any] = []
    if response.status_code == 200:
        try:
            versions = response.json().get("version") or []
        except (ValueError, AttributeError):
            versions = []
    chosen = "2.0.0" if "2.0.0" in versions else "1.0.3"
    _version_cache[endpoint] = (time.monotonic() + VERSION_TTL_S, chosen)
    return chosen


def client() -> httpx.Client:
    return httpx.Client(auth=_auth(), timeout=TIMEOUT_S)


def post_statements(client: httpx.Client, batch: list[dict[str, Any]]) -> Posted:
    headers = {"X-Experience-API-Version": version(client), "Content-Type": "application/json"}
    try:
        response = client.post(_endpoint() + "statements", content=json.dumps(batch), headers=headers)
    except httpx.HTTPError as error:
        raise _unavailable(f"the LRS did not answer: {error}") from None
    status = response.status_code
    if status in (200, 204):
        return Posted(True, status, "")
    if status in (401, 403):
        raise JobFailure("xapi_lrs_refused", f"the LRS refused our credentials (HTTP {status})")
    if status in (400, 409, 422):  # 422: Ralph's (FastAPI's) answer to a malformed statement
        return Posted(False, status, _reason(response))
    raise _unavailable(f"the LRS answered {status}")


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    detail = body.get("detail") if isinstance(body, dict) else body
    return json.dumps(detail)[:1000] if not isinstance(detail, str) else detail[:1000]
