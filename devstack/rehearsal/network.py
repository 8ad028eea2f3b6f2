"""Hosts on one machine: Linux network namespaces joined through a router namespace by veth pairs.

Each host is a namespace with one link, `eth0`, to the router; the router forwards between them
and nothing else (no link to the machine's own network, no NAT). The machine's own namespace is
the `client` host: it gets a link to the router too, so the test or the person watching reaches
the hosts by their addresses and the hosts cannot reach anything of the machine's but that link.

    router: 10.<net>.<i>.1 on r<i>  <-- veth -->  host i: 10.<net>.<i>.2 on eth0, default via .1

A link can be cut and healed from the router's side (`ip link set down`): the host's packets are
dropped there, its TCP connections retransmit into nothing, as when a switch port or a cable goes.

Every namespace and link made here carries the run's prefix and is removed by `remove`, which
also stops what still runs in them (by pid: `ip netns pids`). Needs root (CAP_NET_ADMIN);
`unavailable()` says why not where it cannot run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

IP = "ip"


def unavailable() -> str | None:
    """Why namespaces cannot be made here, or None when they can (checked by making one)."""
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN)"
    probe = f"mq-probe-{os.getpid()}"
    made = subprocess.run([IP, "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip() or made.returncode}"
    subprocess.run([IP, "netns", "delete", probe], capture_output=True)
    return None


def _run(*args: str) -> None:
    done = subprocess.run(list(args), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")


@dataclass
class Host:
    name: str
    index: int
    namespace: str | None  # None: the machine's own namespace (the client)
    address: str
    router_side: str  # the link's interface in the router namespace

    def command(self, argv: Iterable[str]) -> list[str]:
        """`argv` run on this host."""
        argv = list(argv)
        return [IP, "netns", "exec", self.namespace, *argv] if self.namespace else argv


@dataclass
class Network:
    """The router and hosts of one rehearsal; `prefix` names everything it makes."""

    prefix: str
    net: int = 77  # the second octet of every address
    hosts: dict[str, Host] = field(default_factory=dict)
    _made: list[str] = field(default_factory=list)  # namespaces, in the order made
    _links: list[str] = field(default_factory=list)  # veth ends made in the machine's namespace
    _client_link: str | None = None

    @property
    def router(self) -> str:
        return f"{self.prefix}-router"

    def build(self, names: Iterable[str], *, client: str = "client") -> Network:
        """The router, one namespace per name, and the machine's own namespace as `client`."""
        try:
            self._namespace(self.router)
            _run(IP, "netns", "exec", self.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            for index, name in enumerate(names, start=1):
                self._host(name, index, namespace=f"{self.prefix}-{name}")
            self._host(client, 250, namespace=None)
        except BaseException:
            self.remove()
            raise
        return self

    def _namespace(self, name: str) -> None:
        _run(IP, "netns", "add", name)
        self._made.append(name)
        _run(IP, "netns", "exec", name, IP, "link", "set", "lo", "up")

    def _host(self, name: str, index: int, *, namespace: str | None) -> None:
        # Interface names are at most 15 characters: the host's end is renamed eth0 once moved.
        outer, inner = f"{self.prefix[:8]}r{index}", f"{self.prefix[:8]}h{index}"
        _run(IP, "link", "add", outer, "type", "veth", "peer", "name", inner)
        self._links.append(inner)  # until moved into its namespace, which removes it with itself
        if namespace is None:
            self._client_link = inner
        _run(IP, "link", "set", outer, "netns", self.router)
        gateway, address = f"10.{self.net}.{index}.1", f"10.{self.net}.{index}.2"
        router = (IP, "netns", "exec", self.router)
        _run(*router, IP, "addr", "add", f"{gateway}/24", "dev", outer)
        _run(*router, IP, "link", "set", outer, "up")
        if namespace is None:  # the machine's side: a route to the hosts' addresses, no default
            _run(IP, "addr", "add", f"{address}/24", "dev", inner)
            _run(IP, "link", "set", inner, "up")
            _run(IP, "route", "add", f"10.{self.net}.0.0/16", "via", gateway)
        else:
            self._namespace(namespace)
            _run(IP, "link", "set", inner, "netns", namespace)
            here = (IP, "netns", "exec", namespace)
            _run(*here, IP, "link", "set", inner, "name", "eth0")
            _run(*here, IP, "addr", "add", f"{address}/24", "dev", "eth0")
            _run(*here, IP, "link", "set", "eth0", "up")
            _run(*here, IP, "route", "add", "default", "via", gateway)
        self.hosts[name] = Host(name, index, namespace, address, outer)

    def cut(self, name: str) -> None:
        """Drop every packet to and from the host (its link goes down at the router)."""
        _run(IP, "netns", "exec", self.router, IP, "link", "set", self.hosts[name].router_side, "down")

    def heal(self, name: str) -> None:
        _run(IP, "netns", "exec", self.router, IP, "link", "set", self.hosts[name].router_side, "up")

    def kill_host(self, name: str, *, wait_s: float = 10.0) -> list[int]:
        """SIGKILL every process in the host's namespace at once (the host lost), again for any
        that appears meanwhile (a fork caught between the listing and the kill), until none is
        left; their pids. A killed process lingers in the listing until its parent reaps it."""
        killed: list[int] = []
        deadline = time.monotonic() + wait_s
        while pids := self.pids(name):
            for pid in pids:
                if pid not in killed:
                    killed.append(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes on {name} outlived SIGKILL: {pids}")
            time.sleep(0.05)
        return killed

    def pids(self, name: str) -> list[int]:
        namespace = self.hosts[name].namespace
        if namespace is None:
            return []
        listed = subprocess.run([IP, "netns", "pids", namespace], capture_output=True, text=True)
        return [int(pid) for pid in listed.stdout.split()]

    def remove(self) -> None:
        """Stop what still runs in the namespaces (TERM, then KILL), remove them and the client link."""
        for name in self._made:
            self._stop_all_in(name)
        for name in reversed(self._made):
            subprocess.run([IP, "netns", "delete", name], capture_output=True)
        self._made.clear()
        for link in self._links:  # deleting one end of a veth pair deletes both
            subprocess.run([IP, "link", "delete", link], capture_output=True)
        self._links.clear()
        if self._client_link is not None:
            subprocess.run([IP, "route", "del", f"10.{self.net}.0.0/16"], capture_output=True)
            self._client_link = None

    def _stop_all_in(self, namespace: str, *, grace_s: float = 5.0) -> None:
        def pids() -> list[int]:
            listed = subprocess.run([IP, "netns", "pids", namespace], capture_output=True, text=True)
            return [int(pid) for pid in listed.stdout.split()]

        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            running = pids()
            if not running:
                return
            for pid in running:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait_s
            while pids() and time.monotonic() < deadline:
                time.sleep(0.1)
