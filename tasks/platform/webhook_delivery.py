"""Webhook delivery on the `io` queue: one attempt per task; the schedule lives in the database.

Retries are not Celery countdowns: a delivery waiting hours for its next try is a row with
`next_attempt_at`, picked up by the reconciler, so no broker message sits for hours.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from core.metrics import catalog
from core.platform_tasks import DELIVER_WEBHOOK
from core.settings import get_settings
from core.webhook_signing import new_secret, webhook_headers
from db import webhooks as webhook_queries
from db.unit_of_work import unit_of_work
from workers.celery_app import platform_task
from workers.webhooks.delivery import deliver
from workers.webhooks.schedule import next_delay

log = logging.getLogger(__name__)


@platform_task(DELIVER_WEBHOOK)
def deliver_webhook(delivery_id: str) -> str | None:
    """Make one attempt at one webhook message and log it; returns the delivery's new status."""
    settings = get_settings()
    with unit_of_work() as session:
        claimed = webhook_queries.claim_delivery(session, delivery_id=uuid.UUID(delivery_id))
        if claimed is None:
            return None  # already delivered, being delivered, not yet due, or disabled
        delivery, owner_id = claimed
        secret = webhook_queries.get_or_create_secret_sync(session, user_id=owner_id, new_secret=new_secret)
        secrets = webhook_queries.active_secrets(secret)

    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = webhook_headers(secrets, f"msg_{delivery.id.hex}", int(time.time()), body)
    result = deliver(
        delivery.url,
        body,
        headers,
        timeout_s=settings.webhook_timeout_seconds,
        allow_private=settings.webhook_allow_private,
    )
    retry_in = (
        next_delay(delivery.attempts, result.retry_after_s, schedule=settings.webhook_retry_schedule)
        if result.outcome == "retry"
        else None
    )
    with unit_of_work() as session:
        status = webhook_queries.record_attempt(
            session,
            delivery=delivery,
            outcome=result.outcome,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
            retry_in_s=retry_in,
        )
    catalog.WEBHOOK_DELIVERIES.labels(result.outcome, catalog.bounded(status)).inc()
    log.info("webhook %s attempt %d: %s -> %s", delivery.id, delivery.attempts, result.outcome, status)
    return status
