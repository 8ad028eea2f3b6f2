"""Reading a process's metrics as Prometheus would: GET /metrics with the scrape token."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.stack import METRICS_TOKEN


def scraped(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample the endpoint at `base_url` serves, by name and sorted labels."""
    answer = httpx.get(
        f"{base_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
    )
    answer.raise_for_status()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def sample(base_url: str, name: str, **labels: str) -> float:
    """One sample's value (0 when the series does not exist yet)."""
    return scraped(base_url).get((name, tuple(sorted(labels.items()))), 0.0)
