"""Webhook secrets and deliveries: claim, log attempts, schedule retries, list, redeliver."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.models import Job, WebhookAttempt, WebhookDelivery, WebhookSecret
from db.unit_of_work import outbox

SENDING_LEASE_S = 120  # a delivery stuck in `sending` this long (its worker died) is tried again


def active_secrets(secret: WebhookSecret) -> list[str]:
    """The secrets that sign now: the current one, and the previous one until its overlap ends."""
    secrets = [secret.secret]
    if (
        secret.previous_secret
        and secret.previous_expires_at
        and secret.previous_expires_at > datetime.now(UTC)
    ):
        secrets.append(secret.previous_secret)
    return secrets


def _create_if_missing(user_id: uuid.UUID, new_secret: Callable[[], str]):
    return insert(WebhookSecret).values(user_id=user_id, secret=new_secret()).on_conflict_do_nothing()


async def get_or_create_secret(
    session: AsyncSession, *, user_id: uuid.UUID, new_secret: Callable[[], str]
) -> WebhookSecret:
    await session.execute(_create_if_missing(user_id, new_secret))
    return (
        await session.execute(
            select(WebhookSecret)
            .where(WebhookSecret.user_id == user_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


def get_or_create_secret_sync(
    session: Session, *, user_id: uuid.UUID, new_secret: Callable[[], str]
) -> WebhookSecret:
    """Read first: every delivery asks, and the secret almost always exists already."""
    existing = session.execute(
        select(WebhookSecret).where(WebhookSecret.user_id == user_id)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    session.execute(_create_if_missing(user_id, new_secret))
    return session.execute(select(WebhookSecret).where(WebhookSecret.user_id == user_id)).scalar_one()


async def rotate_secret(
    session: AsyncSession, *, user_id: uuid.UUID, new_secret: Callable[[], str], overlap: timedelta
) -> WebhookSecret:
    """A new current secret; the old one keeps signing (beside it) for `overlap`."""
    await get_or_create_secret(session, user_id=user_id, new_secret=new_secret)
    result = await session.execute(
        update(WebhookSecret)
        .where(WebhookSecret.user_id == user_id)
        .values(
            previous_secret=WebhookSecret.secret,
            previous_expires_at=func.now() + overlap,
            secret=new_secret(),
            rotated_at=func.now(),
        )
        .returning(WebhookSecret)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one()


def claim_delivery(session: Session, *, delivery_id: uuid.UUID) -> tuple[WebhookDelivery, uuid.UUID] | None:
    """pending (and due) -> sending, counting the attempt; returns it with the job owner's id."""
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            or_(
                WebhookDelivery.status == "pending",
                (WebhookDelivery.status == "sending") & (WebhookDelivery.locked_until < func.now()),
            ),
            or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= func.now()),
        )
        .values(
            status="sending",
            attempts=WebhookDelivery.attempts + 1,
            locked_until=func.now() + timedelta(seconds=SENDING_LEASE_S),
        )
        .returning(WebhookDelivery)
        .execution_options(populate_existing=True)
    )
    delivery = result.scalar_one_or_none()
    if delivery is None:
        return None
    job = session.execute(
        select(Job.owner_id, Job.webhook_disabled_at).where(Job.id == delivery.job_id)
    ).one()
    if job.webhook_disabled_at is not None:
        delivery.status = "disabled"
        delivery.completed_at = func.now()
        return None
    return delivery, job.owner_id


def record_attempt(
    session: Session,
    *,
    delivery: WebhookDelivery,
    outcome: str,
    status_code: int | None,
    latency_ms: int,
    error: str | None,
    retry_in_s: float | None,
) -> str:
    """Log the attempt and move the delivery on; returns its new status."""
    if outcome == "success":
        status = "succeeded"
    elif outcome == "disable":
        status = "disabled"
    elif retry_in_s is not None and outcome == "retry":
        status = "pending"
    else:
        status = "failed"
    next_at = func.now() + timedelta(seconds=retry_in_s) if status == "pending" else None
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            attempt=delivery.attempts,
            outcome=outcome,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
            next_attempt_at=next_at,
        )
    )
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id)
        .values(
            status=status,
            next_attempt_at=next_at,
            dispatched_at=None,
            locked_until=None,
            completed_at=None if status == "pending" else func.now(),
        )
    )
    if status == "disabled":
        # 410 Gone: the receiver wants nothing more about this job.
        session.execute(update(Job).where(Job.id == delivery.job_id).values(webhook_disabled_at=func.now()))
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.job_id == delivery.job_id, WebhookDelivery.status == "pending")
            .values(status="disabled", completed_at=func.now())
        )
    return status


def due_deliveries(session: Session, *, limit: int) -> list[uuid.UUID]:
    """Deliveries whose (re)try is due and whose task is not already queued, plus ones a dead worker held."""
    now = func.now()
    result = session.execute(
        select(WebhookDelivery.id)
        .where(
            or_(
                (WebhookDelivery.status == "pending")
                & (WebhookDelivery.next_attempt_at <= now)
                & or_(
                    WebhookDelivery.dispatched_at.is_(None),
                    WebhookDelivery.dispatched_at < now - timedelta(seconds=60),
                ),
                (WebhookDelivery.status == "sending") & (WebhookDelivery.locked_until < now),
            )
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    return list(result.scalars())


async def deliveries_of_job(
    session: AsyncSession, *, job_id: uuid.UUID
) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
    deliveries = list(
        (
            await session.execute(
                select(WebhookDelivery)
                .where(WebhookDelivery.job_id == job_id)
                .order_by(WebhookDelivery.created_at)
            )
        ).scalars()
    )
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {delivery.id: [] for delivery in deliveries}
    if deliveries:
        rows = await session.execute(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.id)
        )
        for attempt in rows.scalars():
            attempts[attempt.delivery_id].append(attempt)
    return [(delivery, attempts[delivery.id]) for delivery in deliveries]


async def get_delivery(
    session: AsyncSession, *, delivery_id: uuid.UUID, owner_id: uuid.UUID | None
) -> WebhookDelivery | None:
    query = (
        select(WebhookDelivery)
        .join(Job, Job.id == WebhookDelivery.job_id)
        .where(WebhookDelivery.id == delivery_id)
    )
    if owner_id is not None:
        query = query.where(Job.owner_id == owner_id)
    return (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()


async def requeue_delivery(session: AsyncSession, *, delivery_id: uuid.UUID) -> WebhookDelivery | None:
    """A finished delivery -> pending now, same webhook-id, sent once committed; None while being sent."""
    result = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status != "sending")
        .values(status="pending", next_attempt_at=func.now(), dispatched_at=None, completed_at=None)
        .returning(WebhookDelivery)
        .execution_options(populate_existing=True)
    )
    delivery = result.scalar_one_or_none()
    if delivery is not None:
        outbox(session).deliveries.append(delivery.id)
    return delivery


def delivery_read(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> dict[str, Any]:
    """A delivery as the API shows it, with its attempt log."""

    def iso(moment):
        return moment.isoformat() if moment else None

    return {
        "id": str(delivery.id),
        "webhook_id": f"msg_{delivery.id.hex}",
        "job_id": str(delivery.job_id),
        "event_type": delivery.event_type,
        "url": delivery.url,
        "status": delivery.status,
        "attempts": [
            {
                "attempt": attempt.attempt,
                "outcome": attempt.outcome,
                "status_code": attempt.status_code,
                "latency_ms": attempt.latency_ms,
                "error": attempt.error,
                "next_attempt_at": iso(attempt.next_attempt_at),
                "at": iso(attempt.created_at),
            }
            for attempt in attempts
        ],
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "created_at": iso(delivery.created_at),
        "completed_at": iso(delivery.completed_at),
    }
