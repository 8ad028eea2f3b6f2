"""SSRF guard for webhook URLs: which URLs a job may name, and which addresses a delivery may reach.

Two checks, at two moments. `check_url_syntax` runs at submit time without DNS and refuses
malformed URLs and literal forbidden addresses. `resolve_and_check` runs before every delivery:
it resolves the host and refuses if *any* address is forbidden, so a name that resolves to a
private address (or a DNS answer that mixes one in) never gets a connection. The delivery then
connects to an address this function returned, never resolving again (no DNS rebinding window).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

import httpx

ADDRESS_FORBIDDEN = "webhook_address_forbidden"
URL_INVALID = "webhook_url_invalid"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]

# Explicit ranges, so the answer does not depend on which Python patch release's `is_private`
# table is installed; the `ipaddress` flags are checked as well, as a second net.
_FORBIDDEN_V4 = [
    (ipaddress.ip_network(net), reason)
    for net, reason in [
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared address space (CGNAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.169.254/32", "cloud metadata"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignment"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    ]
]
_FORBIDDEN_V6 = [
    (ipaddress.ip_network(net), reason)
    for net, reason in [
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible (deprecated)"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignment"),
        ("2001:db8::/32", "documentation"),
        ("fd00:ec2::254/128", "cloud metadata"),
        ("fc00::/7", "private (unique local)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
    ]
]
# Refused even where private addresses are allowed (development, tests, a self-hosted network):
# link-local ranges hold the clouds' instance metadata services, which hand out credentials
# (169.254.169.254 on AWS, GCP and Azure, fd00:ec2::254 on AWS IPv6, 100.100.100.200 on Alibaba).
_ALWAYS_FORBIDDEN = [
    (ipaddress.ip_network(net), reason)
    for net, reason in [
        ("169.254.169.254/32", "cloud metadata"),
        ("100.100.100.200/32", "cloud metadata"),
        ("fd00:ec2::254/128", "cloud metadata"),
        ("169.254.0.0/16", "link-local"),
        ("fe80::/10", "link-local"),
    ]
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAMES = ("localhost", "localhost.localdomain")


class WebhookAddressError(Exception):
    """A webhook URL or address that may not be used; `code` is stable, the message says why."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def forbidden_reason(address: str | IPAddress) -> str | None:
    """Why `address` must not be reached from a worker (loopback, private, ...), or None when it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = forbidden_reason(embedded)
            return f"{inner} (IPv4 {embedded} embedded in IPv6)" if inner else None
        table = _FORBIDDEN_V6
    else:
        table = _FORBIDDEN_V4
    for network, reason in table:
        if ip in network:
            return reason
    for flag in (
        "is_loopback",
        "is_private",
        "is_link_local",
        "is_multicast",
        "is_reserved",
        "is_unspecified",
    ):
        if getattr(ip, flag):
            return flag.removeprefix("is_").replace("_", "-")
    if not ip.is_global:
        return "not globally routable"
    return None


def always_forbidden_reason(address: str | IPAddress) -> str | None:
    """Why `address` is refused whatever `allow_private` says (cloud metadata, link-local), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and (embedded := _embedded_ipv4(ip)) is not None:
        ip = embedded
    return next((reason for network, reason in _ALWAYS_FORBIDDEN if ip in network), None)


def _refusal(address: str | IPAddress, *, allow_private: bool) -> str | None:
    return always_forbidden_reason(address) if allow_private else forbidden_reason(address)


def check_url_syntax(url: str, *, allow_http: bool, allow_private: bool) -> None:
    """Refuse a webhook URL that is malformed, not https (unless `allow_http`), or a forbidden IP literal.

    No DNS: this runs on the API host at submit time. Raises `WebhookAddressError`.
    """
    parsed = _parse(url)
    if parsed.scheme == "http" and not allow_http:
        raise WebhookAddressError(URL_INVALID, "the URL must use https")
    host = _ascii_host(parsed)
    literal = _ip_literal(host)
    if literal is not None:
        reason = _refusal(literal, allow_private=allow_private)
        if reason:
            raise WebhookAddressError(ADDRESS_FORBIDDEN, f"{literal} is forbidden ({reason})")
    elif allow_private:
        return
    elif host.rstrip(".") in _LOCAL_NAMES or host.rstrip(".").endswith(".localhost"):
        raise WebhookAddressError(ADDRESS_FORBIDDEN, f"{host} names this machine (loopback)")


def resolve_and_check(url: str, *, allow_private: bool, resolver: Resolver = socket.getaddrinfo) -> list[str]:
    """Resolve the URL's host and return its addresses, refusing if any one of them is forbidden.

    `resolver` is called like `socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)`. A failed
    lookup raises `OSError` (`socket.gaierror`), which is transient; a refusal raises `WebhookAddressError`.
    """
    check_url_syntax(url, allow_http=True, allow_private=allow_private)
    parsed = httpx.URL(url)
    host = _ascii_host(parsed)
    literal = _ip_literal(host)
    if literal is not None:
        return [str(literal)]
    infos = resolver(host, parsed.port or _default_port(parsed.scheme), type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, f"{host} has no addresses")
    for address in addresses:
        reason = _refusal(address, allow_private=allow_private)
        if reason:
            raise WebhookAddressError(
                ADDRESS_FORBIDDEN, f"{host} resolves to {address}, forbidden ({reason})"
            )
    return addresses


def _parse(url: str) -> httpx.URL:
    """Parse strictly: the characters other parsers disagree about are refused, not normalized."""
    if not isinstance(url, str) or not url:
        raise WebhookAddressError(URL_INVALID, "the URL is empty")
    if len(url) > 2048:
        raise WebhookAddressError(URL_INVALID, "the URL is longer than 2048 characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in url):
        raise WebhookAddressError(URL_INVALID, "the URL contains whitespace, control characters or '\\'")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise WebhookAddressError(URL_INVALID, f"the URL does not parse: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise WebhookAddressError(URL_INVALID, "the URL must be http or https")
    if parsed.userinfo or "@" in url.split("://", 1)[-1].split("/", 1)[0]:
        raise WebhookAddressError(URL_INVALID, "webhook URLs may not carry a user name or password")
    if not parsed.host:
        raise WebhookAddressError(URL_INVALID, "the webhook URL has no host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise WebhookAddressError(URL_INVALID, f"the webhook URL names port {parsed.port}")
    return parsed


def _ascii_host(parsed: httpx.URL) -> str:
    return parsed.raw_host.decode("ascii").lower()


def _ip_literal(host: str) -> IPAddress | None:
    """The address a host string denotes by itself, including the legacy IPv4 forms `inet_aton` accepts."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    try:
        packed = socket.inet_aton(host)
    except OSError:
        return None
    # "127.1", "2130706433" or "0x7f.1" reach 127.0.0.1 through getaddrinfo: refuse the odd spelling outright.
    raise WebhookAddressError(
        URL_INVALID, f"{host!r} is an IPv4 address in a non-canonical form ({ipaddress.IPv4Address(packed)})"
    )


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, 6to4 or NAT64 IPv6 address reaches."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80
