"""/v1/webhooks/secret, /v1/jobs/{id}/deliveries, /v1/deliveries/{id}/redeliver."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.openapi import problems
from api.shared import CurrentUser, SessionDep
from api.webhooks import service as webhook_service

router = APIRouter(prefix="/v1", tags=["webhooks"])


@router.get("/webhooks/secret")
async def get_secret(session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Your signing secret (`whsec_…`), created on first use."""
    return await webhook_service.show_secret(session, user=user)


@router.post("/webhooks/secret/rotate")
async def rotate_secret(session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """A new secret; the previous one keeps signing beside it for the overlap period."""
    return await webhook_service.rotate_secret(session, user=user)


@router.get("/jobs/{job_id}/deliveries")
async def list_deliveries(job_id: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """The job's webhook messages, each with its attempt log."""
    return await webhook_service.list_deliveries(session, user=user, job_id=job_id)


@router.post("/deliveries/{delivery_id}/redeliver", responses=problems(409))
async def redeliver(delivery_id: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Send a delivery again now (same webhook-id)."""
    return await webhook_service.redeliver(session, user=user, delivery_id=delivery_id)
