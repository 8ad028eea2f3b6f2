"""The SSRF guard: literal addresses at submit time, resolved addresses before every delivery (no network)."""

from __future__ import annotations

import pytest

from core.net.guard import WebhookAddressError, check_url_syntax, forbidden_reason, resolve_and_check
from tests.support.dns import FakeDNS

FORBIDDEN_LITERALS = [
    "https://127.0.0.1/hook",
    "https://127.8.9.10/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://169.254.1.1/hook",
    "https://100.64.0.1/hook",
    "https://100.100.100.200/hook",
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "https://240.0.0.1/hook",
    "https://255.255.255.255/hook",
    "https://[::1]/hook",
    "https://[::]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:a9fe:a9fe]/hook",
    "https://[fd00::1]/hook",
    "https://[fd00:ec2::254]/hook",
    "https://[fe80::1]/hook",
    "https://[ff02::1]/hook",
    "https://[64:ff9b::a00:1]/hook",
    "https://[2002:a00:1::1]/hook",
    "https://localhost/hook",
    "https://api.localhost/hook",
]


@pytest.mark.parametrize("url", FORBIDDEN_LITERALS)
def test_literal_forbidden_addresses_are_refused_at_submit_time(url: str) -> None:
    with pytest.raises(WebhookAddressError) as refused:
        check_url_syntax(url, allow_http=False, allow_private=False)
    assert refused.value.code == "webhook_address_forbidden"


# Cloud metadata and link-local addresses: refused even where private addresses are allowed.
ALWAYS_FORBIDDEN_LITERALS = [
    "https://169.254.169.254/latest/meta-data/",
    "https://169.254.1.1/hook",
    "https://100.100.100.200/hook",
    "https://[::ffff:a9fe:a9fe]/hook",
    "https://[fd00:ec2::254]/hook",
    "https://[fe80::1]/hook",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
]


@pytest.mark.parametrize("url", [url for url in FORBIDDEN_LITERALS if url not in ALWAYS_FORBIDDEN_LITERALS])
def test_allow_private_lets_literal_addresses_through(url: str) -> None:
    check_url_syntax(url, allow_http=False, allow_private=True)


@pytest.mark.parametrize("url", ALWAYS_FORBIDDEN_LITERALS)
def test_metadata_and_link_local_addresses_are_refused_even_where_private_ones_are_allowed(url: str) -> None:
    with pytest.raises(WebhookAddressError) as refused:
        check_url_syntax(url, allow_http=True, allow_private=True)
    assert refused.value.code == "webhook_address_forbidden"


def test_a_name_resolving_to_the_metadata_service_is_refused_even_where_private_ones_are_allowed() -> None:
    with pytest.raises(WebhookAddressError) as refused:
        resolve_and_check(
            "http://metadata.google.internal/computeMetadata/v1/", allow_private=True, resolver=DNS
        )
    assert "cloud metadata" in refused.value.message
    with pytest.raises(WebhookAddressError):
        resolve_and_check("https://link-local.example/", allow_private=True, resolver=DNS)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "gopher://example.com/",
        "https://",
        "https:///hook",
        "https://user:secret@example.com/hook",
        "https://user@example.com/hook",
        "https://exa mple.com/hook",
        "https://example.com\\@127.0.0.1/hook",
        "https://example.com/\nhook",
        "https://example.com:0/hook",
        "https://example.com:99999/hook",
        "https://127.1/hook",
        "https://2130706433/hook",
        "https://0x7f.0.0.1/hook",
        "https://017700000001/hook",
        "",
        "example.com/hook",
    ],
)
def test_malformed_urls_are_invalid(url: str) -> None:
    with pytest.raises(WebhookAddressError) as refused:
        check_url_syntax(url, allow_http=True, allow_private=False)
    assert refused.value.code == "webhook_url_invalid"


def test_http_needs_allow_http() -> None:
    with pytest.raises(WebhookAddressError) as refused:
        check_url_syntax("http://example.com/hook", allow_http=False, allow_private=False)
    assert refused.value.code == "webhook_url_invalid"
    check_url_syntax("http://example.com/hook", allow_http=True, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",
        "https://hooks.example.com:8443/a/b?c=d",
        "https://93.184.216.34/hook",
        "https://[2606:4700:4700::1111]/hook",
        "https://bücher.example/hook",
    ],
)
def test_public_urls_pass(url: str) -> None:
    check_url_syntax(url, allow_http=False, allow_private=False)


def test_forbidden_reason_names_the_range() -> None:
    assert forbidden_reason("169.254.169.254") == "cloud metadata"
    assert forbidden_reason("127.0.0.1") == "loopback"
    assert "loopback" in (forbidden_reason("::ffff:127.0.0.1") or "")
    assert forbidden_reason("fe80::1%eth0") == "link-local"
    assert forbidden_reason("8.8.8.8") is None
    assert forbidden_reason("2606:4700:4700::1111") is None


DNS = FakeDNS(
    {
        "internal.example": ["10.0.0.5"],
        "metadata.google.internal": ["169.254.169.254"],
        "link-local.example": ["10.0.0.5", "fe80::1%2"],
        "mixed.example": ["93.184.216.34", "10.0.0.5"],
        "sneaky.example": ["::ffff:127.0.0.1"],
        "public.example": ["93.184.216.34", "93.184.216.34", "2606:4700:4700::1111"],
    }
)


@pytest.mark.parametrize(
    "host", ["internal.example", "metadata.google.internal", "mixed.example", "sneaky.example"]
)
def test_a_name_resolving_to_a_forbidden_address_is_refused(host: str) -> None:
    with pytest.raises(WebhookAddressError) as refused:
        resolve_and_check(f"https://{host}/hook", allow_private=False, resolver=DNS)
    assert refused.value.code == "webhook_address_forbidden"
    assert host in refused.value.message


def test_resolution_returns_every_distinct_address_and_asks_for_the_right_port() -> None:
    dns = FakeDNS(DNS.records)
    assert resolve_and_check("https://public.example/hook", allow_private=False, resolver=dns) == [
        "93.184.216.34",
        "2606:4700:4700::1111",
    ]
    resolve_and_check("http://public.example:8080/hook", allow_private=False, resolver=dns)
    assert dns.lookups == [("public.example", 443), ("public.example", 8080)]


def test_allow_private_returns_private_addresses() -> None:
    assert resolve_and_check("https://internal.example/", allow_private=True, resolver=DNS) == ["10.0.0.5"]


def test_a_literal_address_is_not_resolved() -> None:
    dns = FakeDNS({})
    assert resolve_and_check("https://93.184.216.34/", allow_private=False, resolver=dns) == ["93.184.216.34"]
    with pytest.raises(WebhookAddressError):
        resolve_and_check("https://10.0.0.5/", allow_private=False, resolver=dns)
    assert dns.calls == []


def test_a_failed_lookup_raises_oserror() -> None:
    with pytest.raises(OSError):
        resolve_and_check("https://unknown.example/", allow_private=False, resolver=DNS)
