"""A getaddrinfo stand-in for the network guard's `resolver`: names map to addresses (IPv4 or IPv6),
unknown names fail like NXDOMAIN, every lookup is recorded, nothing touches the network."""

from __future__ import annotations

import socket
from typing import Any


class FakeDNS:
    def __init__(self, records: dict[str, list[str]]):
        self.records = records
        self.lookups: list[tuple[str, Any]] = []  # (host, port), in order

    @property
    def calls(self) -> list[str]:
        """The names looked up, in order."""
        return [host for host, _ in self.lookups]

    def __call__(self, host: str, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        self.lookups.append((host, port))
        if host not in self.records:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in self.records[host]
        ]
