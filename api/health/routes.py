"""/healthz (the process is up) and /readyz (PostgreSQL, Redis and a live worker)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.worker_registry import live_workers, workers_per_queue
from core.redis_clients import get_async_redis
from core.settings import get_settings
from db.session import async_engine

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers; says nothing of its dependencies."""
    return {"status": "ok"}


async def _check_database() -> dict[str, Any]:
    async with async_engine().connect() as connection:
        await connection.execute(text("SELECT 1"))
    return {"ok": True}


async def _check_redis() -> dict[str, Any]:
    await get_async_redis().ping()
    return {"ok": True}


async def _check_workers() -> dict[str, Any]:
    workers = await live_workers()
    return {
        "ok": bool(workers),
        "count": len(workers),
        "queues": list(workers_per_queue(workers)),
        "hostnames": [w["hostname"] for w in workers],
        # The code sandbox's layers on each worker's host (workers/sandbox): informative here; a
        # coding submission on a worker missing a required layer fails with sandbox_unavailable.
        "sandbox": {w["hostname"]: w.get("sandbox") for w in workers},
        # Each transcribe worker's speech engine, and what keeps it from running (faster-whisper's
        # weights not placed): informative, as the sandbox is; its recordings fail with
        # speech_engine_unavailable meanwhile.
        "speech": {w["hostname"]: w["speech"] for w in workers if w.get("speech")},
        # Where each model-running worker's torch models run: a GPU host's embed worker says
        # `cuda:0`; `cpu` there means the GPU sits idle (docs/production/gpu.md).
        "devices": {w["hostname"]: w["device"] for w in workers if w.get("device")},
    }


def _check_mail() -> dict[str, Any]:
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


@router.get(
    "/readyz",
    responses={
        200: {"description": "Ready: every check passed"},
        503: {
            "description": "Not ready: the failing checks (plain JSON, like the 200)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
async def readyz() -> JSONResponse:
    """200 when PostgreSQL, Redis and at least one worker are up; 503 with the failing checks otherwise.
    `checks.mail` says how account mail leaves, and does not decide readiness."""
    database, redis, workers = await asyncio.gather(
        _run(_check_database), _run(_check_redis), _run(_check_workers)
    )
    checks = {"database": database, "redis": redis, "workers": workers}
    ready = all(check["ok"] for check in checks.values())
    checks["mail"] = _check_mail()
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503
    )
