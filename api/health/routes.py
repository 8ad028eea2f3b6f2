"""/healthz (the process is up), /readyz (ready or not, per component) and /v1/admin/health (why).

/readyz answers anyone, so it says only whether each component is up: a worker's host name, its
sandbox layers, its device or the path of a model it lacks tell an outsider how the platform is
built. Those details go to admins (/v1/admin/health, the console's overview) and to the log, once
when readiness changes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.health.schemas import HealthRead
from api.openapi import problems
from api.shared import CurrentUser, require_admin
from api.worker_registry import live_workers, workers_per_queue
from core.redis_clients import get_async_broker_redis, get_async_state_redis
from core.settings import get_settings
from db.session import async_engine

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 3.0
# Counted against readiness; `mail` is reported beside them and never decides it.
READINESS_CHECKS = ("database", "redis", "state_redis", "workers")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers; says nothing of its dependencies."""
    return {"status": "ok"}


async def _check_database() -> dict[str, Any]:
    async with async_engine().connect() as connection:
        await connection.execute(text("SELECT 1"))
    return {"ok": True}


async def _check_redis() -> dict[str, Any]:
    """The broker Redis: Celery's queues, live events, worker liveness."""
    await get_async_broker_redis().ping()
    return {"ok": True}


async def _check_state_redis() -> dict[str, Any]:
    """The state Redis (the broker's when MENTORQ_STATE_REDIS_URL is unset): rate limits, LTI logins."""
    await get_async_state_redis().ping()
    return {"ok": True, "separate": bool(get_settings().state_redis_url)}


async def _check_workers() -> dict[str, Any]:
    workers = await live_workers()
    return {
        "ok": bool(workers),
        "count": len(workers),
        "queues": list(workers_per_queue(workers)),
        "hostnames": [w["hostname"] for w in workers],
        # The code sandbox's layers on each host of a worker that runs code (workers/sandbox; lanes
        # cpu and llm): informative here; a coding submission on a worker missing a required layer
        # fails with sandbox_unavailable.
        "sandbox": {w["hostname"]: w["sandbox"] for w in workers if w.get("sandbox")},
        # Each transcribe worker's speech engine, and what keeps it from running (faster-whisper's
        # weights not placed): informative, as the sandbox is; its recordings fail with
        # speech_engine_unavailable meanwhile.
        "speech": {w["hostname"]: w["speech"] for w in workers if w.get("speech")},
        # Where each model-running worker's torch models run: a GPU host's embed worker says
        # `cuda:0`; `cpu` there means the GPU sits idle (docs/production/gpu.md).
        "devices": {w["hostname"]: w["device"] for w in workers if w.get("device")},
    }


async def _check_mail() -> dict[str, Any]:
    """How account mail leaves (smtp, log, none). Informative, as the sandbox is: with no SMTP server
    in production the API still serves everything else, and each verification or reset message
    fails `smtp_not_configured` in the worker's log; taking the API out of rotation for it would
    turn missing mail into an outage of every route."""
    transport = get_settings().mail_transport
    if transport == "none":
        return {"ok": False, "transport": transport, "error": "smtp_not_configured"}
    return {"ok": True, "transport": transport}


async def _run(check) -> dict[str, Any]:
    try:
        return await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except Exception as error:  # noqa: BLE001 - report, don't raise: this endpoint is for operators
        return {"ok": False, "error": type(error).__name__}


async def _checks() -> tuple[bool, dict[str, dict[str, Any]]]:
    """(ready, every check's full report): the readiness checks at once, then mail."""
    reports = await asyncio.gather(
        _run(_check_database), _run(_check_redis), _run(_check_state_redis), _run(_check_workers)
    )
    checks = dict(zip(READINESS_CHECKS, reports, strict=True))
    ready = all(check["ok"] for check in checks.values())
    checks["mail"] = await _check_mail()
    return ready, checks


_last_ready: bool | None = None  # this process's last verdict, so the log says each change once


def _log_change(ready: bool, checks: dict[str, dict[str, Any]]) -> None:
    global _last_ready
    if ready == _last_ready:
        return
    _last_ready = ready
    failing = {name: check for name, check in checks.items() if not check["ok"]}
    if ready:
        log.info("ready: %s", ", ".join(checks))
    else:
        log.warning("not ready: %s", failing)


@router.get(
    "/readyz",
    responses={
        200: {"description": "Ready: every check passed"},
        503: {
            "description": "Not ready: each component's `ok` or `failing` (plain JSON, like the 200)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
async def readyz() -> JSONResponse:
    """200 when PostgreSQL, both Redis roles and at least one worker are up; 503 otherwise. Each
    component says `ok` or `failing`, nothing more (the details: GET /v1/admin/health). `mail`
    says whether account mail can leave, and does not decide readiness."""
    ready, checks = await _checks()
    _log_change(ready, checks)
    public = {name: "ok" if check["ok"] else "failing" for name, check in checks.items()}
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": public}, status_code=200 if ready else 503
    )


@router.get("/v1/admin/health", response_model=HealthRead, tags=["admin"], responses=problems(403))
async def admin_health(user: CurrentUser) -> HealthRead:
    """Admins: each check's details, ready or not (always 200): the live workers' hosts, queues,
    sandbox layers, speech engines (and what keeps one from running) and devices, each Redis, how
    account mail leaves."""
    require_admin(user, to="see the platform's health details")
    ready, checks = await _checks()
    return HealthRead(status="ready" if ready else "not_ready", checks=checks)
