"""What a scrape is answered with, and who may scrape: the API's GET /metrics and a worker host's
endpoint share both (api/metrics/, workers/metrics_endpoint.py)."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from core.metrics import catalog, processes
from core.settings import Settings

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

__all__ = ["CONTENT_TYPE", "authorized", "catalog", "exposition", "served"]


def served(settings: Settings) -> bool:
    """Metrics are served only with a token set: no deployment shows its traffic by accident."""
    return settings.metrics_token is not None


def authorized(settings: Settings, authorization: str | None) -> bool:
    """Whether an Authorization header carries the metrics token (compared in constant time)."""
    if settings.metrics_token is None or not authorization:
        return False
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    expected = settings.metrics_token.get_secret_value().encode()
    return hmac.compare_digest(credentials.strip().encode(), expected)


def exposition(extra: Iterable[CollectorRegistry] = ()) -> bytes:
    """The text format of every process's counts (added up across a service's children), then
    `extra` registries (figures read at scrape time)."""
    counted = processes.scrape_registry() or REGISTRY
    return b"".join(generate_latest(registry) for registry in (counted, *extra))
