"""Choosing the LLM backend: `auto` takes Ollama when it answers, else the in-process model."""

from __future__ import annotations

import httpx
from ollama._client import _parse_host  # the client's own host parsing, so we probe what it would call

from core.net.endpoint_url import EndpointURL
from core.settings import Settings

PROBE_TIMEOUT_S = 1.0


def ollama_base_url(host: str | None) -> str:
    """The base URL the ollama client derives from an OLLAMA_HOST value (without its credentials)."""
    return _parse_host(EndpointURL.parse(host).base if host else host)


def ollama_reachable(host: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True when GET /api/version on `host` answers 200 within `timeout` seconds (with the
    credentials the host carries, as the provider sends them)."""
    try:
        options = EndpointURL.parse(host).httpx_options()
        response = httpx.get(f"{ollama_base_url(host)}/api/version", timeout=timeout, **options)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def resolve_provider_name(settings: Settings) -> str:
    """ "ollama" or "local": the configured provider, with `auto` settled by a probe."""
    if settings.llm_provider != "auto":
        return settings.llm_provider
    if settings.ollama_host and ollama_reachable(settings.ollama_host):
        return "ollama"
    return "local"
