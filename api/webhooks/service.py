"""Webhook use cases behind the routes: the signing secret, delivery logs, redelivery."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from api.jobs.service import get_job_for
from api.rate_limits import charge_quota
from api.shared import get_or_404
from core.settings import get_settings
from core.webhook_signing import new_secret
from db import webhooks as webhook_queries
from db.models import User
from db.unit_of_work import commit_async


def _secret_view(secret) -> dict[str, Any]:
    return {
        "secret": secret.secret,
        "previous_secret_expires_at": secret.previous_expires_at.isoformat()
        if secret.previous_secret and secret.previous_expires_at
        else None,
        "rotated_at": secret.rotated_at.isoformat() if secret.rotated_at else None,
    }


async def show_secret(session: AsyncSession, *, user: User) -> dict[str, Any]:
    secret = await webhook_queries.get_or_create_secret(session, user_id=user.id, new_secret=new_secret)
    await commit_async(session)
    return _secret_view(secret)


async def rotate_secret(session: AsyncSession, *, user: User) -> dict[str, Any]:
    overlap = timedelta(hours=get_settings().webhook_secret_overlap_hours)
    secret = await webhook_queries.rotate_secret(
        session, user_id=user.id, new_secret=new_secret, overlap=overlap
    )
    await commit_async(session)
    return _secret_view(secret)


async def list_deliveries(session: AsyncSession, *, user: User, job_id: str) -> dict[str, Any]:
    job = await get_job_for(session, user=user, job_id=job_id)
    rows = await webhook_queries.deliveries_of_job(session, job_id=job.id)
    return {"items": [webhook_queries.delivery_read(delivery, attempts) for delivery, attempts in rows]}


async def redeliver(session: AsyncSession, *, user: User, delivery_id: str) -> dict[str, Any]:
    """Send a delivery again now, under the same webhook-id."""
    owner = None if user.is_superuser else user.id
    found = await get_or_404(
        delivery_id,
        lambda parsed: webhook_queries.get_delivery(session, delivery_id=parsed, owner_id=owner),
        code="delivery_not_found",
        detail="no such delivery",
    )
    if not user.is_superuser:
        await charge_quota(
            policy="redeliveries",
            key=str(user.id),
            per_hour=get_settings().redeliveries_per_hour,
            code="too_many_redeliveries",
            what="webhook redeliveries",
        )
    delivery = await webhook_queries.requeue_delivery(session, delivery_id=found.id)
    if delivery is None:
        raise ProblemError(
            409, "delivery_in_progress", "this delivery is being sent right now; retry shortly"
        )
    await commit_async(session)  # sends it now; if the broker is down the reconciler does
    rows = await webhook_queries.deliveries_of_job(session, job_id=delivery.job_id)
    return next(webhook_queries.delivery_read(d, a) for d, a in rows if d.id == found.id)
