"""core/llm_endpoints: what GET /v1/models and the console show of a provider's address."""

from __future__ import annotations

import asyncio

import httpx

from core.llm_endpoints import probe
from core.net.display import display_url
from core.settings import Settings
from tests.support.stack import free_port


def test_credentials_and_query_in_an_address_are_never_shown() -> None:
    assert display_url("http://user:secret@gpu-box:8000/v1?api-key=secret#x") == "http://gpu-box:8000/v1"
    assert display_url("http://[::1]:8080/v1") == "http://[::1]:8080/v1"
    assert display_url("https://api.anthropic.com") == "https://api.anthropic.com"


def test_a_probe_of_an_address_with_credentials_shows_neither_in_its_status() -> None:
    url = f"http://user:s3cr3t@127.0.0.1:{free_port()}/v1?api-key=s3cr3t"  # nothing listens there
    settings = Settings(env="test", openai_base_url=url)

    async def probed():
        async with httpx.AsyncClient(timeout=2.0) as client:
            return await probe(settings, "openai_compatible", client)

    found = asyncio.run(probed())
    assert not found.available and found.error_code == "unreachable"
    assert "s3cr3t" not in f"{found.base_url} {found.error_detail}"
